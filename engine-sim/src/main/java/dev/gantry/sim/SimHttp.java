package dev.gantry.sim;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PushbackInputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The simulator's HTTP/1.1 listener: blocking sockets, one virtual thread per connection and one
 * per request. It exists because an engine simulator must notice a client that leaves at once, also
 * while the request waits for a batch slot or before its body is written, as vLLM does (the
 * platform relies on a cancelled request freeing its slot); the JDK's {@code
 * com.sun.net.httpserver} cannot see a closed connection until it writes, and a Netty stack costs
 * two to three times the CPU at boot, when up to {@code max_workers} engines start together.
 *
 * <p>While a request is handled, its connection's thread keeps reading the socket: end of stream or
 * a reset cancels the request ({@link Exchange#cancelled()} and an interrupt of its thread). Bytes
 * of a next request (pipelining) are kept for after the response. Request heads are bounded
 * ({@value #MAX_HEAD_BYTES} bytes), bodies too ({@value #MAX_BODY_BYTES}), by {@code
 * Content-Length} or chunked; a malformed request gets a 400 (431, 413) and the connection is
 * closed. A response to {@code HEAD} carries no body; HTTP/1.0 clients get a stream unchunked,
 * ended by the close.
 */
final class SimHttp implements AutoCloseable {

  /** Handles one request on its own thread; an exception after the response started closes it. */
  interface Handler {
    void handle(Exchange exchange) throws Exception;
  }

  static final int MAX_HEAD_BYTES = 16 * 1024;
  static final int MAX_BODY_BYTES = 16 * 1024 * 1024;

  private static final System.Logger LOG = System.getLogger(SimHttp.class.getName());
  private static final byte[] CRLF = {'\r', '\n'};

  private final ServerSocket socket;
  private final Handler handler;
  private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Thread acceptor;

  private SimHttp(ServerSocket socket, Handler handler) {
    this.socket = socket;
    this.handler = handler;
    this.acceptor = Thread.ofVirtual().name("gantry-sim-accept").unstarted(this::accept);
  }

  /**
   * Listens on {@code host:port} (0: an ephemeral port) and serves until {@link #close()}.
   *
   * @throws IOException if the address cannot be bound
   */
  static SimHttp start(String host, int port, Handler handler) throws IOException {
    ServerSocket socket = new ServerSocket();
    try {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(host, port), 1024);
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
    SimHttp server = new SimHttp(socket, handler);
    server.acceptor.start();
    return server;
  }

  int port() {
    return socket.getLocalPort();
  }

  /** Stops accepting and closes every connection, which cancels the requests on them. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    closeQuietly(socket);
    for (Socket connection : connections) {
      closeQuietly(connection);
    }
    try {
      acceptor.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void accept() {
    while (!closed.get()) {
      Socket connection;
      try {
        connection = socket.accept();
      } catch (IOException e) {
        if (!closed.get()) {
          LOG.log(System.Logger.Level.WARNING, "gantry-sim: accept failed", e);
        }
        if (socket.isClosed()) {
          return;
        }
        continue;
      }
      connections.add(connection);
      if (closed.get()) {
        closeQuietly(connection);
      }
      try {
        Thread.ofVirtual().name("gantry-sim-connection").start(() -> serve(connection));
      } catch (Throwable e) {
        // Out of memory or threads: drop this connection, keep listening for the next.
        LOG.log(System.Logger.Level.WARNING, "gantry-sim: cannot serve a connection", e);
        connections.remove(connection);
        closeQuietly(connection);
      }
    }
  }

  private void serve(Socket connection) {
    try (connection) {
      connection.setTcpNoDelay(true);
      PushbackInputStream in =
          new PushbackInputStream(new BufferedInputStream(connection.getInputStream()), 1);
      OutputStream out = new BufferedOutputStream(connection.getOutputStream(), 8192);
      while (!closed.get()) {
        Request request;
        try {
          request = Request.read(in, out);
        } catch (BadRequest e) {
          Exchange.writeSimple(out, e.status, e.getMessage());
          return;
        }
        if (request == null) {
          return; // the client closed an idle connection
        }
        Exchange exchange = new Exchange(request, out, connection);
        Thread worker =
            Thread.ofVirtual().name("gantry-sim-request").unstarted(() -> run(exchange));
        exchange.thread = worker;
        worker.start();
        // Watch the connection while the request runs: the client leaving cancels it.
        int next;
        try {
          next = in.read();
        } catch (IOException e) {
          next = -1;
        }
        if (next < 0) {
          exchange.cancel();
          worker.join();
          return;
        }
        in.unread(next); // a pipelined request: served once this response is out
        worker.join();
        if (exchange.mustClose()) {
          return;
        }
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "gantry-sim: connection failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      connections.remove(connection);
    }
  }

  private void run(Exchange exchange) {
    try {
      handler.handle(exchange);
      if (!exchange.responded()) {
        throw new IllegalStateException("no response for " + exchange.path());
      }
    } catch (Throwable e) {
      // Errors too (out of memory): the client must get an answer or see the connection close,
      // not wait on a connection nobody will write to.
      if (!exchange.cancelled()) {
        LOG.log(System.Logger.Level.DEBUG, "gantry-sim: request failed", e);
      }
      exchange.abort();
    } finally {
      if (exchange.mustClose()) {
        // Ends the connection's watch too; a cut-short response shows as such to the client.
        closeQuietly(exchange.connection);
      }
    }
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      // already closed or broken: nothing left to release
    }
  }

  /** A malformed request: answered with {@link #status} and the connection closed. */
  private static final class BadRequest extends IOException {
    final int status;

    BadRequest(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  /** A parsed request: method, path (without query), lower-cased headers and the whole body. */
  record Request(
      String method, String path, boolean http10, Map<String, String> headers, byte[] body) {

    /** Reads one request, or returns {@code null} at the end of the stream before any byte. */
    static Request read(InputStream in, OutputStream out) throws IOException {
      int[] budget = {MAX_HEAD_BYTES};
      String line = readLine(in, budget, true);
      while (line != null && line.isEmpty()) {
        line = readLine(in, budget, true); // a stray CRLF between requests is allowed
      }
      if (line == null) {
        return null;
      }
      String[] parts = line.split(" ");
      if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
        throw new BadRequest(400, "Malformed request line");
      }
      Map<String, String> headers = new HashMap<>();
      while (true) {
        String header = readLine(in, budget, false);
        if (header.isEmpty()) {
          break;
        }
        int colon = header.indexOf(':');
        if (colon <= 0) {
          throw new BadRequest(400, "Malformed header");
        }
        String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = header.substring(colon + 1).trim();
        String previous = headers.putIfAbsent(name, value);
        if (previous != null) {
          if (name.equals("content-length") && !previous.equals(value)) {
            throw new BadRequest(400, "Conflicting Content-Length");
          }
          headers.put(name, previous + ", " + value);
        }
      }
      String target = parts[1];
      int query = target.indexOf('?');
      String path = query < 0 ? target : target.substring(0, query);
      boolean http10 = parts[2].equals("HTTP/1.0");
      if (headers.containsKey("transfer-encoding") && headers.containsKey("content-length")) {
        throw new BadRequest(400, "Both Transfer-Encoding and Content-Length");
      }
      long declared = declaredLength(headers);
      if ("100-continue".equalsIgnoreCase(headers.get("expect"))) {
        out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
      byte[] body = declared < 0 ? readChunked(in) : readFixed(in, declared);
      return new Request(parts[0], path, http10, Map.copyOf(headers), body);
    }

    /**
     * The body's {@code Content-Length} (0 without one; -1 when chunked), checked against {@link
     * #MAX_BODY_BYTES} before anything is read or a {@code 100 Continue} is sent.
     */
    private static long declaredLength(Map<String, String> headers) throws BadRequest {
      String encoding = headers.get("transfer-encoding");
      if (encoding != null) {
        if (!encoding.equalsIgnoreCase("chunked")) {
          throw new BadRequest(400, "Unsupported Transfer-Encoding");
        }
        return -1;
      }
      String length = headers.get("content-length");
      if (length == null) {
        return 0;
      }
      long size;
      try {
        size = Long.parseLong(length);
      } catch (NumberFormatException e) {
        throw new BadRequest(400, "Malformed Content-Length");
      }
      if (size < 0) {
        throw new BadRequest(400, "Malformed Content-Length");
      }
      if (size > MAX_BODY_BYTES) {
        throw new BadRequest(413, "Request body too large");
      }
      return size;
    }

    private static byte[] readFixed(InputStream in, long size) throws IOException {
      byte[] body = in.readNBytes((int) size);
      if (body.length < size) {
        throw new BadRequest(400, "Request body cut short");
      }
      return body;
    }

    private static byte[] readChunked(InputStream in) throws IOException {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      int[] trailers = {MAX_HEAD_BYTES};
      while (true) {
        int[] budget = {1024}; // each chunk's size line and the CRLF after its data
        String sizeLine = readLine(in, budget, false);
        int semicolon = sizeLine.indexOf(';');
        String hex = (semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim();
        int size;
        try {
          size = Integer.parseInt(hex, 16);
        } catch (NumberFormatException e) {
          throw new BadRequest(400, "Malformed chunk size");
        }
        if (size < 0 || body.size() + (long) size > MAX_BODY_BYTES) {
          throw new BadRequest(413, "Request body too large");
        }
        if (size == 0) {
          while (!readLine(in, trailers, false).isEmpty()) {
            // trailers: ignored
          }
          return body.toByteArray();
        }
        byte[] chunk = in.readNBytes(size);
        if (chunk.length < size || !readLine(in, budget, false).isEmpty()) {
          throw new BadRequest(400, "Malformed chunk");
        }
        body.write(chunk);
      }
    }

    /**
     * One CRLF- (or LF-) terminated line in ISO-8859-1, charged to {@code budget}; {@code null} at
     * the end of the stream before any byte when {@code eofAllowed}.
     */
    private static String readLine(InputStream in, int[] budget, boolean eofAllowed)
        throws IOException {
      StringBuilder line = new StringBuilder();
      while (true) {
        int b = in.read();
        if (b < 0) {
          if (eofAllowed && line.isEmpty()) {
            return null;
          }
          throw new BadRequest(400, "Request cut short");
        }
        if (--budget[0] < 0) {
          throw new BadRequest(431, "Request header too large");
        }
        if (b == '\n') {
          int end = line.length();
          if (end > 0 && line.charAt(end - 1) == '\r') {
            line.setLength(end - 1);
          }
          return line.toString();
        }
        line.append((char) b);
      }
    }
  }

  /**
   * One request and its response: either whole ({@link #send}) or streamed in chunks ({@link
   * #startStream}, {@link #writeChunk}, {@link #endStream}). Written only by the request's thread.
   */
  static final class Exchange {
    private final Request request;
    private final OutputStream out;
    private final Socket connection;
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final Map<String, String> responseHeaders = new HashMap<>();
    private volatile Thread thread;
    private int status;
    private boolean started;
    private boolean finished;
    private boolean broken;

    private Exchange(Request request, OutputStream out, Socket connection) {
      this.request = request;
      this.out = out;
      this.connection = connection;
    }

    String method() {
      return request.method();
    }

    String path() {
      return request.path();
    }

    byte[] body() {
      return request.body();
    }

    /** Whether the client went away (or the server closed): stop working on the request. */
    boolean cancelled() {
      return cancelled.get();
    }

    /** Whether the response has begun (its status line is out). */
    boolean started() {
      return started;
    }

    int status() {
      return status;
    }

    /** Adds a header to the response (before it starts). */
    Exchange header(String name, String value) {
      responseHeaders.put(name, value);
      return this;
    }

    /** Sends a whole response with a {@code Content-Length} (its body left out for HEAD). */
    void send(int status, String contentType, byte[] body) throws IOException {
      begin(status, contentType, body.length);
      try {
        if (!request.method().equals("HEAD")) {
          out.write(body);
        }
        out.flush();
        finished = true;
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }

    /** Starts a chunked response; each {@link #writeChunk} goes out at once. */
    void startStream(int status, String contentType) throws IOException {
      begin(status, contentType, -1);
      flushOrBreak();
    }

    void writeChunk(byte[] data) throws IOException {
      if (data.length == 0) {
        return;
      }
      try {
        if (request.http10()) {
          out.write(data); // no chunked coding in HTTP/1.0: the close ends the body
        } else {
          out.write(Integer.toHexString(data.length).getBytes(StandardCharsets.US_ASCII));
          out.write(CRLF);
          out.write(data);
          out.write(CRLF);
        }
      } catch (IOException e) {
        broken = true;
        throw e;
      }
      flushOrBreak();
    }

    void endStream() throws IOException {
      try {
        if (!request.http10()) {
          out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        }
      } catch (IOException e) {
        broken = true;
        throw e;
      }
      flushOrBreak();
      finished = true;
    }

    private void flushOrBreak() throws IOException {
      try {
        out.flush();
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }

    private void begin(int status, String contentType, int length) throws IOException {
      if (started) {
        throw new IllegalStateException("response already started");
      }
      if (cancelled()) {
        throw new SocketException("client gone");
      }
      started = true;
      this.status = status;
      StringBuilder head = new StringBuilder(160);
      head.append("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
      if (contentType != null) {
        head.append("Content-Type: ").append(contentType).append("\r\n");
      }
      responseHeaders.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
      if (length >= 0) {
        head.append("Content-Length: ").append(length).append("\r\n");
      } else if (!request.http10()) {
        head.append("Transfer-Encoding: chunked\r\n");
      }
      if (closeAfter()) {
        head.append("Connection: close\r\n");
      }
      head.append("\r\n");
      try {
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }

    private boolean closeAfter() {
      String connection = request.headers().getOrDefault("connection", "");
      return request.http10() || connection.toLowerCase(Locale.ROOT).contains("close");
    }

    boolean responded() {
      return finished;
    }

    /** After the handler: whether the connection cannot carry another request. */
    private boolean mustClose() {
      return !finished || broken || closeAfter();
    }

    private void cancel() {
      if (cancelled.compareAndSet(false, true)) {
        Thread running = thread;
        if (running != null) {
          running.interrupt();
        }
      }
    }

    /** The handler failed: answer 500 if nothing went out yet, else cut the response short. */
    private void abort() {
      if (!started && !cancelled() && !request.method().equals("HEAD")) {
        try {
          writeSimple(out, 500, "Internal error");
          finished = true;
          broken = true; // close the connection all the same
        } catch (IOException e) {
          broken = true;
        }
      } else {
        broken = true;
      }
    }

    private static void writeSimple(OutputStream out, int status, String message)
        throws IOException {
      byte[] body =
          ("{\"detail\":\"" + message.replace("\"", "'") + "\"}").getBytes(StandardCharsets.UTF_8);
      out.write(
          ("HTTP/1.1 "
                  + status
                  + " "
                  + reason(status)
                  + "\r\nContent-Type: application/json\r\nContent-Length: "
                  + body.length
                  + "\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
    }

    private static String reason(int status) {
      return switch (status) {
        case 200 -> "OK";
        case 400 -> "Bad Request";
        case 404 -> "Not Found";
        case 405 -> "Method Not Allowed";
        case 408 -> "Request Timeout";
        case 413 -> "Content Too Large";
        case 422 -> "Unprocessable Content";
        case 429 -> "Too Many Requests";
        case 431 -> "Request Header Fields Too Large";
        case 500 -> "Internal Server Error";
        case 503 -> "Service Unavailable";
        default -> "Status " + status;
      };
    }
  }
}
