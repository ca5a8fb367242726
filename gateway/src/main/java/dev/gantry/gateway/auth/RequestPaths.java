package dev.gantry.gateway.auth;

import org.springframework.http.server.PathContainer;
import org.springframework.http.server.RequestPath;

/**
 * A request path as the router will see it. Spring matches routes against each segment decoded and
 * stripped of its matrix parameters, so {@code /%61pi;x=y/v1/deployments} is routed like {@code
 * /api/v1/deployments}: whatever decides on a path (is it protected? which error shape?) must look
 * at that form, never at the raw one.
 */
final class RequestPaths {
  private RequestPaths() {}

  /** The path with each segment decoded and matrix parameters removed; null when undecodable. */
  static String routed(RequestPath path) {
    var out = new StringBuilder();
    try {
      for (PathContainer.Element element : path.pathWithinApplication().elements()) {
        if (element instanceof PathContainer.PathSegment segment) {
          out.append(segment.valueToMatch());
        } else {
          out.append('/');
        }
      }
    } catch (IllegalArgumentException badEncoding) {
      return null;
    }
    return out.toString();
  }

  /** {@code routed} with runs of {@code /} made one, as a lenient router would read it. */
  static String collapsed(String routed) {
    return routed.replaceAll("/{2,}", "/");
  }

  /**
   * Whether a path is in the one form Gantry's protected routes are written in: nothing encoded, no
   * matrix parameters, no empty, {@code .} or {@code ..} segments, no backslash or control
   * character. Such paths route exactly as they read.
   */
  static boolean canonical(String raw, String routed) {
    if (routed == null || !raw.equals(routed) || raw.contains("//")) {
      return false;
    }
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c < 0x21 || c == 0x7f || c == '\\' || c == '%' || c == ';') {
        return false;
      }
    }
    for (String segment : raw.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..")) {
        return false;
      }
    }
    return true;
  }
}
