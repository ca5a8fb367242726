package dev.gantry.infra.model;

import dev.gantry.api.FailureType;
import dev.gantry.infra.config.GantryProperties;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Which model endpoints a deployment may name, and which addresses a download may connect to. A
 * tenant's {@code HF_ENDPOINT} must be one the operator allowed; otherwise the platform would dial
 * any address a tenant names, its own ports and private network included. Every connection, the
 * first and each redirect, is checked after DNS: loopback, link-local, private, multicast and
 * unspecified addresses are refused unless the host is a configured endpoint or the operator
 * allowed private addresses.
 *
 * <p>The JDK client resolves the name again when it connects; the JVM's address cache (30 s by
 * default) normally answers both lookups alike, which narrows but does not close a DNS-rebinding
 * window. Deployments that must close it run downloads behind an egress proxy.
 */
public final class EndpointPolicy {

  /** Resolves a host name; replaced in tests. */
  @FunctionalInterface
  interface Resolver {
    InetAddress[] resolve(String host) throws UnknownHostException;
  }

  private final Set<String> allowedBases = new LinkedHashSet<>();
  private final Set<String> trustedAuthorities = new LinkedHashSet<>();
  private final boolean allowPrivate;
  private final Resolver resolver;

  public EndpointPolicy(GantryProperties.Models settings) {
    this(settings, InetAddress::getAllByName);
  }

  EndpointPolicy(GantryProperties.Models settings, Resolver resolver) {
    this.allowPrivate = settings.allowPrivateAddresses();
    this.resolver = resolver;
    addAllowed(GantryProperties.Models.HUGGING_FACE_HUB);
    addAllowed(settings.hfEndpoint());
    settings.allowedEndpoints().forEach(this::addAllowed);
    trust(settings.ollamaRegistry());
  }

  private void addAllowed(String url) {
    normalize(url)
        .ifPresent(
            base -> {
              allowedBases.add(base);
              trust(url);
            });
  }

  /** Hosts the operator configured are trusted at any address: they chose them. */
  private void trust(String url) {
    normalize(url).map(URI::create).ifPresent(u -> trustedAuthorities.add(authority(u)));
  }

  /**
   * Whether a deployment may use {@code value} as its {@code HF_ENDPOINT}: the Hub, the configured
   * endpoint or one of the allowed mirrors (compared by scheme, host, port and path).
   */
  public boolean allowsTenantEndpoint(String value) {
    return normalize(value).map(allowedBases::contains).orElse(false);
  }

  /**
   * Whether a deployment may pull an {@code ollama} model from {@code host} (a model named {@code
   * host/namespace/name:tag}): the public registry, or a registry the operator allowed as {@code
   * https://host}.
   */
  public boolean allowsOllamaHost(String host) {
    return OllamaPuller.DEFAULT_HOST.equals(host) || allowsTenantEndpoint("https://" + host);
  }

  /**
   * Refuses a connection to {@code uri} when its host resolves to an internal address that neither
   * the configuration names nor the operator allowed.
   *
   * @param redirected whether a server sent the client there (the message then says so)
   * @throws ModelException when refused, with a reason that names neither the host nor why
   */
  void checkConnect(URI uri, boolean redirected) {
    if (allowPrivate || trustedAuthorities.contains(authority(uri))) {
      return;
    }
    String host = uri.getHost();
    if (host == null) {
      throw refused(redirected);
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    InetAddress[] addresses;
    try {
      addresses = resolver.resolve(host);
    } catch (UnknownHostException e) {
      // Unresolvable: the client will fail to connect the same way, with the generic reason.
      return;
    }
    for (InetAddress a : addresses) {
      if (internal(a)) {
        throw refused(redirected);
      }
    }
  }

  private static ModelException refused(boolean redirected) {
    return new ModelException(
        FailureType.INVALID_SPEC,
        redirected
            ? "the model endpoint redirected to an address this platform does not download from"
            : "the model endpoint is at an address this platform does not download from");
  }

  /** Addresses that reach the platform itself or its private network rather than the internet. */
  static boolean internal(InetAddress a) {
    if (a.isLoopbackAddress()
        || a.isLinkLocalAddress()
        || a.isSiteLocalAddress()
        || a.isAnyLocalAddress()
        || a.isMulticastAddress()) {
      return true;
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      int b0 = b[0] & 0xff;
      int b1 = b[1] & 0xff;
      return b0 == 0 // "this network"
          || b0 == 100 && (b1 & 0xc0) == 64 // carrier-grade NAT, 100.64/10
          || b0 == 192 && b1 == 0 && (b[2] & 0xff) == 0 // IETF protocol assignments
          || b0 == 198 && (b1 == 18 || b1 == 19) // benchmarking
          || b0 >= 240; // reserved and broadcast
    }
    if (a instanceof Inet6Address) {
      if ((b[0] & 0xfe) == 0xfc) {
        return true; // unique local, fc00::/7
      }
      if (embedsIpv4(b)) {
        try {
          return internal(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
        } catch (UnknownHostException e) {
          return true;
        }
      }
    }
    return false;
  }

  /** IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach an IPv4 host. */
  private static boolean embedsIpv4(byte[] b) {
    boolean compatible = true;
    for (int i = 0; i < 12; i++) {
      compatible &= b[i] == 0;
    }
    boolean nat64 =
        (b[0] & 0xff) == 0
            && (b[1] & 0xff) == 0x64
            && (b[2] & 0xff) == 0xff
            && (b[3] & 0xff) == 0x9b;
    for (int i = 4; nat64 && i < 12; i++) {
      nat64 = b[i] == 0;
    }
    return compatible || nat64;
  }

  /** {@code scheme://host[:port][/path]} without a trailing slash, or empty if not a plain URL. */
  static Optional<String> normalize(String value) {
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    try {
      URI uri = URI.create(value.trim());
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")
          || uri.getHost() == null
          || uri.getRawUserInfo() != null
          || uri.getRawQuery() != null
          || uri.getRawFragment() != null) {
        return Optional.empty();
      }
      String path = uri.getRawPath() == null ? "" : uri.getRawPath();
      while (path.endsWith("/")) {
        path = path.substring(0, path.length() - 1);
      }
      return Optional.of(scheme + "://" + authority(uri) + path);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static String authority(URI uri) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    int port = uri.getPort() >= 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
    String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
    return host + ":" + port;
  }
}
