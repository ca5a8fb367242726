package dev.gantry.infra.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.Map;

/**
 * GET requests to a model host. Redirects are followed here rather than by the JDK client, so that
 * the {@code Authorization} header goes only to the origin it belongs to: the Hub sends LFS files
 * from a CDN on another host, and a mirror may do the same. Following them here also lets the
 * {@link EndpointPolicy} check every hop's address before it is dialled.
 */
final class ModelHttp {
  static final String USER_AGENT = "gantry-model-download/1";
  private static final int MAX_REDIRECTS = 10;

  private final HttpClient client;
  private final Duration headerTimeout;
  private final EndpointPolicy policy;

  ModelHttp(Duration connectTimeout, Duration headerTimeout, EndpointPolicy policy) {
    this.policy = policy;
    // HTTP/1.1: parallel downloads then use one connection each instead of sharing one HTTP/2
    // connection's window, which is what limits a single large transfer.
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(connectTimeout)
            .build();
    this.headerTimeout = headerTimeout;
  }

  /**
   * A response at the end of the redirect chain, with the first hop's headers: the Hub puts the
   * file's hash and commit there ({@code X-Linked-Etag}, {@code X-Repo-Commit}) before redirecting.
   */
  record Response(
      int status, URI uri, HttpHeaders headers, HttpHeaders originHeaders, InputStream body) {

    String header(String name) {
      return headers.firstValue(name).orElse(null);
    }

    String originHeader(String name) {
      return originHeaders.firstValue(name).orElse(null);
    }

    void discard() {
      try {
        body.close();
      } catch (IOException ignored) {
        // Nothing of this body is needed; the connection is simply not reused.
      }
    }
  }

  /**
   * A failure described in the platform's own words, safe to show a user. Any other exception's
   * message may quote what a foreign server sent, or tell a closed port from an open one, so users
   * see only {@link #userReason}'s generic sentence for it (the log keeps the detail).
   */
  static class OwnWords extends IOException {
    OwnWords(String message) {
      super(message);
    }
  }

  /** The part of a failure a user may see. */
  static String userReason(Throwable e) {
    return e instanceof OwnWords && e.getMessage() != null
        ? e.getMessage()
        : "the model endpoint could not be reached or the connection broke";
  }

  /** A status that ends the request, with the host's machine-readable reason when it sent one. */
  static final class StatusException extends OwnWords {
    private final int status;
    private final String errorCode;

    StatusException(int status, String errorCode, URI uri) {
      super("the model endpoint answered HTTP " + status);
      this.status = status;
      this.errorCode = errorCode;
    }

    int status() {
      return status;
    }

    /** The Hub's {@code X-Error-Code} (e.g. {@code GatedRepo}, {@code RepoNotFound}), or null. */
    String errorCode() {
      return errorCode;
    }

    /** Too many requests and server errors may pass; anything else the client must change. */
    boolean retryable() {
      return status == 408 || status == 429 || status >= 500;
    }
  }

  Response get(URI uri, Credential credential, Map<String, String> headers) throws IOException {
    URI current = uri;
    HttpHeaders origin = null;
    for (int hop = 0; ; hop++) {
      policy.checkConnect(current, hop > 0);
      var builder =
          HttpRequest.newBuilder(current)
              .GET()
              .timeout(headerTimeout)
              .header("User-Agent", USER_AGENT);
      headers.forEach(builder::header);
      if (credential != null && credential.appliesTo(current)) {
        builder.header("Authorization", credential.headerValue());
      }
      HttpResponse<InputStream> response;
      try {
        response = client.send(builder.build(), BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while requesting " + hostOf(current));
      }
      if (origin == null) {
        origin = response.headers();
      }
      int status = response.statusCode();
      if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        response.body().close();
        var location = response.headers().firstValue("Location");
        if (location.isEmpty()) {
          throw new OwnWords("the model endpoint redirected without a Location");
        }
        if (hop >= MAX_REDIRECTS) {
          throw new OwnWords("the model endpoint redirected too many times");
        }
        try {
          current = current.resolve(location.get().trim());
        } catch (IllegalArgumentException e) {
          throw new OwnWords("the model endpoint redirected to an invalid location");
        }
        continue;
      }
      return new Response(status, current, response.headers(), origin, response.body());
    }
  }

  /** Fails with a {@link StatusException} unless the response is a success. */
  static Response requireSuccess(Response response) throws StatusException {
    if (response.status() >= 200 && response.status() < 300) {
      return response;
    }
    response.discard();
    throw new StatusException(response.status(), response.header("X-Error-Code"), response.uri());
  }

  /** Names a host in messages and logs without its path and query, which may carry signatures. */
  static String hostOf(URI uri) {
    return uri.getHost() == null ? "?" : uri.getHost();
  }
}
