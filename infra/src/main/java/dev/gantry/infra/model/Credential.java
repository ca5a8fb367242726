package dev.gantry.infra.model;

import java.net.URI;
import java.util.Locale;
import java.util.Objects;

/**
 * An {@code Authorization} header value that is sent only to one origin (scheme, host and port).
 * The Hub redirects LFS files to a CDN on another host, which must never see the token. {@link
 * #toString()} never shows the value.
 */
public final class Credential {
  private final String scheme;
  private final String host;
  private final int port;
  private final String headerValue;

  private Credential(URI origin, String headerValue) {
    this.scheme = origin.getScheme().toLowerCase(Locale.ROOT);
    this.host = origin.getHost().toLowerCase(Locale.ROOT);
    this.port = portOf(origin);
    this.headerValue = headerValue;
  }

  /** A bearer token for {@code origin}; null when there is no token. */
  public static Credential bearer(URI origin, String token) {
    return token == null || token.isBlank() ? null : new Credential(origin, "Bearer " + token);
  }

  boolean appliesTo(URI uri) {
    return uri.getScheme() != null
        && uri.getHost() != null
        && scheme.equals(uri.getScheme().toLowerCase(Locale.ROOT))
        && host.equals(uri.getHost().toLowerCase(Locale.ROOT))
        && port == portOf(uri);
  }

  String headerValue() {
    return headerValue;
  }

  private static int portOf(URI uri) {
    if (uri.getPort() >= 0) {
      return uri.getPort();
    }
    return "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
  }

  @Override
  public String toString() {
    return "Credential[" + scheme + "://" + host + ":" + port + ", ***]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Credential c
        && scheme.equals(c.scheme)
        && host.equals(c.host)
        && port == c.port
        && headerValue.equals(c.headerValue);
  }

  @Override
  public int hashCode() {
    return Objects.hash(scheme, host, port);
  }
}
