package dev.gantry.infra.model;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A response body read only up to a limit, so a hostile endpoint cannot fill the heap. What it
 * reads counts as data of its {@link Transfer}, whose watcher stops a stalled or trickling body.
 */
final class BoundedBody extends FilterInputStream {
  /** The body went past its limit. */
  static final class TooLarge extends ModelHttp.OwnWords {
    TooLarge(long limit) {
      super("the model endpoint sent more than " + limit + " bytes");
    }
  }

  private final long limit;
  private final Transfer transfer;
  private long read;

  BoundedBody(InputStream in, long limit, Transfer transfer) {
    super(in);
    this.limit = limit;
    this.transfer = transfer;
    transfer.register(in);
  }

  @Override
  public void close() throws IOException {
    transfer.unregister(in);
    super.close();
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      count(1);
    }
    return b;
  }

  @Override
  public int read(byte[] buffer, int offset, int length) throws IOException {
    int n = super.read(buffer, offset, length);
    if (n > 0) {
      count(n);
    }
    return n;
  }

  private void count(int n) throws TooLarge {
    read += n;
    transfer.moved(n);
    if (read > limit) {
      throw new TooLarge(limit);
    }
  }
}
