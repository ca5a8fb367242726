package dev.gantry.infra.model;

import dev.gantry.api.FailureType;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads one file into a partial file, resuming it with an HTTP {@code Range} request after an
 * interruption (in this attempt or a previous run of the platform), verifies its size and hash, and
 * only then renames it into place. A file is never visible under its final name unverified.
 */
final class ResumableDownloader {
  private static final Logger log = LoggerFactory.getLogger(ResumableDownloader.class);
  private static final int BUFFER_BYTES = 1 << 20;
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

  private final ModelHttp http;
  private final int fileRetries;

  ResumableDownloader(ModelHttp http, int fileRetries) {
    this.http = http;
    this.fileRetries = fileRetries;
  }

  /** Whether the file is in place and verified, so it need not be read or fetched again. */
  static boolean isComplete(RemoteFile file) {
    try {
      if (!Files.isRegularFile(file.target()) || Files.size(file.target()) != file.size()) {
        return false;
      }
      return file.marker() == null
          || Files.isRegularFile(file.marker())
              && Files.readString(file.marker()).trim().equals(markerText(file));
    } catch (IOException e) {
      return false;
    }
  }

  /** Bytes of this file already on disk: all of it when complete, else its partial file. */
  static long bytesOnDisk(RemoteFile file) {
    if (isComplete(file)) {
      return file.size();
    }
    try {
      return Files.isRegularFile(file.part()) ? Math.min(Files.size(file.part()), file.size()) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * Makes the file complete. Network errors and retryable statuses are resumed up to the configured
   * number of times; other statuses surface as {@link ModelHttp.StatusException} for the caller to
   * explain, and a file that fails verification as a {@link ModelException}.
   */
  void fetch(RemoteFile file, Credential credential, Transfer transfer) throws IOException {
    if (isComplete(file)) {
      return;
    }
    IOException last = null;
    for (int attempt = 0; attempt <= fileRetries; attempt++) {
      if (transfer.aborted()) {
        throw new InterruptedIOException("download of " + file.name() + " was stopped");
      }
      try {
        transferOnce(file, credential, transfer);
        return;
      } catch (ModelHttp.StatusException e) {
        if (!e.retryable()) {
          throw e;
        }
        last = e;
      } catch (IOException e) {
        if (transfer.aborted()) {
          throw e;
        }
        if (StorageBudget.diskFull(e)) {
          Files.deleteIfExists(file.part());
          throw new ModelException(
              FailureType.STORAGE_FULL,
              "the platform's disk filled up while downloading "
                  + file.name()
                  + "; free disk on the data volume and create the deployment again",
              e);
        }
        last = e;
      }
      if (attempt < fileRetries) {
        log.info(
            "Download of {} interrupted ({}); resuming from what is on disk, retry {} of {}",
            file.name(),
            describe(last),
            attempt + 1,
            fileRetries);
        pause(Duration.ofMillis(500L << attempt));
      }
    }
    throw last;
  }

  private void transferOnce(RemoteFile file, Credential credential, Transfer transfer)
      throws IOException {
    Path part = file.part();
    Files.createDirectories(part.getParent());
    if (file.marker() != null) {
      // Whatever is about to replace the target, an old marker must not vouch for it.
      Files.deleteIfExists(file.marker());
    }
    long have = Files.isRegularFile(part) ? Files.size(part) : 0;
    if (have > file.size()) {
      log.warn("Partial file of {} is larger than the file; starting it again", file.name());
      transfer.add(-file.size());
      Files.delete(part);
      have = 0;
    }
    MessageDigest digest = file.digest().start(file.size());
    if (have > 0) {
      hashExisting(part, have, digest, transfer);
    }
    if (have < file.size()) {
      have = receive(file, credential, transfer, have, digest);
    }
    if (have != file.size() || !file.digest().matches(digest)) {
      Files.deleteIfExists(part);
      transfer.add(-have);
      throw new ModelException(
          FailureType.TRANSIENT,
          file.name()
              + " failed verification (expected "
              + file.size()
              + " bytes with "
              + file.digest().label()
              + "); the downloaded copy was removed");
    }
    Files.createDirectories(file.target().getParent());
    Files.move(
        part, file.target(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    if (file.marker() != null) {
      writeAtomically(file.marker(), markerText(file));
    }
  }

  /** Streams the rest of the file into the partial file; returns its size afterwards. */
  private long receive(
      RemoteFile file, Credential credential, Transfer transfer, long have, MessageDigest digest)
      throws IOException {
    Map<String, String> headers = have > 0 ? Map.of("Range", "bytes=" + have + "-") : Map.of();
    var response = http.get(file.uri(), credential, headers);
    boolean append = have > 0;
    if (have > 0 && response.status() == 200) {
      log.warn(
          "{} ignored the range request for {}; downloading it again from byte 0",
          ModelHttp.hostOf(response.uri()),
          file.name());
      transfer.add(-have);
      have = 0;
      append = false;
      file.digest().restart(digest, file.size());
    } else if (have > 0 && response.status() == 416) {
      response.discard();
      Files.deleteIfExists(file.part());
      transfer.add(-have);
      throw new ModelHttp.OwnWords(
          "the server refused to resume " + file.name() + "; starting it again");
    } else if (response.status() == 206) {
      checkRange(file, response, have);
    } else {
      ModelHttp.requireSuccess(response);
    }
    checkAdvertisedHash(file, response);
    if (have > 0) {
      log.info("Resuming {} at byte {} of {}", file.name(), have, file.size());
    }
    var options =
        append
            ? new StandardOpenOption[] {
              StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND
            }
            : new StandardOpenOption[] {
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING
            };
    InputStream body = response.body();
    transfer.register(body);
    try (body;
        var channel = FileChannel.open(file.part(), options)) {
      byte[] buffer = new byte[BUFFER_BYTES];
      int n;
      while ((n = body.read(buffer)) >= 0) {
        if (transfer.aborted()) {
          throw new InterruptedIOException("download of " + file.name() + " was stopped");
        }
        if (have + n > file.size()) {
          channel.close();
          Files.deleteIfExists(file.part());
          transfer.add(-have);
          throw new ModelException(
              FailureType.TRANSIENT,
              file.name()
                  + " is larger than the "
                  + file.size()
                  + " bytes its listing gives; the downloaded copy was removed");
        }
        var bytes = ByteBuffer.wrap(buffer, 0, n);
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
        digest.update(buffer, 0, n);
        have += n;
        transfer.add(n);
        transfer.moved(n);
      }
      if (have < file.size()) {
        throw new ModelHttp.OwnWords(
            "the connection closed after " + have + " of " + file.size() + " bytes");
      }
      // Durable before the rename makes it final: a crash must not leave a short verified file.
      channel.force(false);
    } finally {
      transfer.unregister(body);
    }
    return have;
  }

  private static void checkRange(RemoteFile file, ModelHttp.Response response, long have)
      throws IOException {
    String range = response.header("Content-Range");
    Matcher m = range == null ? null : CONTENT_RANGE.matcher(range.trim());
    if (m == null || !m.matches() || Long.parseLong(m.group(1)) != have) {
      response.discard();
      throw new ModelHttp.OwnWords(
          "the server answered the range request for " + file.name() + " with another range");
    }
    if (!"*".equals(m.group(3)) && Long.parseLong(m.group(3)) != file.size()) {
      response.discard();
      throw new ModelException(
          FailureType.TRANSIENT,
          file.name()
              + " is "
              + m.group(3)
              + " bytes on the server but its listing gives "
              + file.size());
    }
  }

  /**
   * The Hub names the file's hash in {@code X-Linked-Etag} (LFS) or {@code ETag} before any
   * redirect; when that disagrees with the listing, the listing is stale and the file is refused.
   */
  private static void checkAdvertisedHash(RemoteFile file, ModelHttp.Response response)
      throws IOException {
    String advertised = response.originHeader("X-Linked-Etag");
    if (advertised == null && response.uri().equals(file.uri())) {
      advertised = response.originHeader("ETag");
    }
    if (advertised == null) {
      return;
    }
    String hex = advertised.replaceFirst("^W/", "").replace("\"", "").trim();
    hex = hex.toLowerCase(Locale.ROOT);
    boolean sameKind = hex.length() == file.digest().hex().length() && hex.matches("[0-9a-f]+");
    if (sameKind && !hex.equals(file.digest().hex())) {
      response.discard();
      throw new ModelException(
          FailureType.TRANSIENT,
          file.name()
              + " changed on the server: its etag does not match the listed "
              + file.digest().label());
    }
  }

  private static void hashExisting(Path part, long have, MessageDigest digest, Transfer transfer)
      throws IOException {
    byte[] buffer = new byte[BUFFER_BYTES];
    long left = have;
    try (InputStream in = Files.newInputStream(part)) {
      while (left > 0) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
        if (n < 0) {
          throw new IOException("partial file " + part.getFileName() + " shrank while reading");
        }
        digest.update(buffer, 0, n);
        left -= n;
        transfer.moved(n);
        if (transfer.aborted()) {
          throw new InterruptedIOException("download was stopped");
        }
      }
    }
  }

  static String markerText(RemoteFile file) {
    return file.digest().label() + " " + file.size();
  }

  static void writeAtomically(Path target, String text) throws IOException {
    Files.createDirectories(target.getParent());
    Path tmp = Files.createTempFile(target.getParent(), ".tmp-", ".tmp");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  static String describe(Throwable e) {
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
  }

  private static void pause(Duration duration) throws InterruptedIOException {
    try {
      Thread.sleep(duration);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("download was interrupted");
    }
  }
}
