package dev.gantry.infra.storage;

import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Pattern;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/** The local runtime's storage: one directory per deployment under {@code <data dir>/storage}. */
@Component
@ConditionalOnProperty(
    prefix = "gantry.runtime",
    name = "type",
    havingValue = "local",
    matchIfMissing = true)
public class LocalStorage implements DeploymentStorage {
  private static final Pattern SAFE_ID = Pattern.compile("[a-z]{2,8}_[a-z0-9]{6,40}");

  private final Path root;

  public LocalStorage(GantryProperties properties) {
    this.root = properties.dataDir().resolve("storage").toAbsolutePath().normalize();
  }

  public Path directoryOf(String deploymentId) {
    if (!SAFE_ID.matcher(deploymentId).matches()) {
      // Ids come from us, but a path built from one must never escape the storage root.
      throw new IllegalArgumentException("not a deployment id: " + deploymentId);
    }
    return root.resolve(deploymentId);
  }

  /** The directory's size is not enforced here: the model download checks it against the disk. */
  @Override
  public String create(String deploymentId, int sizeGb) {
    return create(deploymentId).toString();
  }

  @Override
  public Path pathOf(String deploymentId) {
    return directoryOf(deploymentId);
  }

  /** Creates the directory if missing; returns it. */
  public Path create(String deploymentId) {
    Path dir = directoryOf(deploymentId);
    try {
      Files.createDirectories(dir);
      // Closed from the start: a model downloading into it is no other engine's to read. The
      // deployment's own engine uid is handed the tree when its first engine starts.
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create storage " + dir, e);
    }
  }

  /** Removes the directory and everything in it; a missing directory is not an error. */
  @Override
  public void remove(String deploymentId) {
    deleteTree(directoryOf(deploymentId));
  }

  public static void deleteTree(Path dir) {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Files.walkFileTree(
          dir,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              Files.deleteIfExists(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
              if (e instanceof NoSuchFileException) {
                return FileVisitResult.CONTINUE;
              }
              throw e;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
              Files.deleteIfExists(d);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove " + dir, e);
    }
  }
}
