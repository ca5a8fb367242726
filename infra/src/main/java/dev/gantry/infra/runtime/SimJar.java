package dev.gantry.infra.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.jar.Attributes;
import java.util.jar.JarInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The simulator's own jar and its dependencies, taken out of the platform's fat jar once into the
 * data dir, so a {@code sim} worker starts a JVM over about 30 plain jars instead of through the
 * fat jar's launcher and its 200 nested ones: that halves the CPU a {@code sim} boot costs, which
 * is most of a cold start when a burst starts eight of them on a small host. The engine-sim jar's
 * manifest names its dependencies ({@code Class-Path}), and the JVM follows it from the directory
 * they are put in.
 */
final class SimJar {
  private static final Logger log = LoggerFactory.getLogger(SimJar.class);
  private static final String LIB = "BOOT-INF/lib/";
  private static final String PREFIX = LIB + "engine-sim-";

  private SimJar() {}

  /**
   * The extracted engine-sim jar under {@code engineDir}, extracting it first if needed; empty when
   * {@code fatJar} holds no simulator or it cannot be extracted (the caller then starts the
   * simulator through the fat jar, as before).
   */
  static Optional<Path> extract(Path fatJar, Path engineDir) {
    try (var zip = new ZipFile(fatJar.toFile())) {
      ZipEntry sim =
          zip.stream()
              .filter(e -> e.getName().startsWith(PREFIX) && e.getName().endsWith(".jar"))
              .findFirst()
              .orElse(null);
      if (sim == null) {
        return Optional.empty();
      }
      String simName = sim.getName().substring(LIB.length());
      // Named after the jar's checksum: a new build gets a new directory, an old one is reused.
      Path dir = engineDir.resolve("sim-" + Long.toHexString(sim.getCrc()));
      Path jar = dir.resolve(simName);
      if (Files.isRegularFile(dir.resolve(".complete"))) {
        return Optional.of(jar);
      }
      List<String> names = new ArrayList<>();
      names.add(simName);
      names.addAll(classPathOf(zip, sim));
      if (!Files.isDirectory(engineDir)) {
        Files.createDirectories(engineDir);
        // Traversable, not listable, by engines: as the engine sandbox keeps it.
        readableByAll(engineDir, "rwx--x--x");
      }
      Path staging = Files.createTempDirectory(engineDir, "sim-staging-");
      try {
        for (String name : names) {
          if (name.contains("/") || name.contains("..")) {
            throw new IOException("unexpected class path entry " + name);
          }
          ZipEntry entry = zip.getEntry(LIB + name);
          if (entry == null) {
            throw new IOException("the fat jar lacks " + name);
          }
          try (InputStream in = zip.getInputStream(entry)) {
            Files.copy(in, staging.resolve(name));
          }
          readableByAll(staging.resolve(name), "rw-r--r--");
        }
        Files.createFile(staging.resolve(".complete"));
        readableByAll(staging, "rwxr-xr-x");
        try {
          Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
          // Another process got there first; its copy is as good.
        } catch (IOException e) {
          if (!Files.isRegularFile(dir.resolve(".complete"))) {
            throw e;
          }
        }
      } finally {
        deleteQuietly(staging);
      }
      return Files.isRegularFile(jar) ? Optional.of(jar) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      log.warn("Starting sim workers through the platform's jar: {}", e.toString());
      return Optional.empty();
    }
  }

  private static List<String> classPathOf(ZipFile zip, ZipEntry sim) throws IOException {
    try (var jar = new JarInputStream(zip.getInputStream(sim))) {
      var manifest = jar.getManifest();
      String classPath =
          manifest == null
              ? null
              : manifest.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
      if (classPath == null || classPath.isBlank()) {
        throw new IOException("the engine-sim jar names no dependencies");
      }
      return List.of(classPath.strip().split("\\s+"));
    }
  }

  /** Engines run as their own users: they must read these files, never write them. */
  private static void readableByAll(Path path, String permissions) throws IOException {
    try {
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(permissions));
    } catch (UnsupportedOperationException e) {
      // Not a POSIX file system: its defaults apply.
    }
  }

  private static void deleteQuietly(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      log.debug("Could not remove {}: {}", dir, e.toString());
    }
  }
}
