package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimJarTest {
  @TempDir Path dir;

  /** A fat jar holding an engine-sim jar whose manifest names {@code classPath}. */
  private Path fatJar(String classPath, String... libs) throws IOException {
    Path fat = dir.resolve("gantry.jar");
    try (var zip = new ZipOutputStream(Files.newOutputStream(fat))) {
      zip.putNextEntry(new ZipEntry("BOOT-INF/lib/engine-sim-0.1.0.jar"));
      var manifest = new Manifest();
      manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
      if (classPath != null) {
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath);
      }
      var inner = new java.io.ByteArrayOutputStream();
      try (var jar = new JarOutputStream(inner, manifest)) {
        jar.putNextEntry(new ZipEntry("dev/gantry/sim/SimMain.class"));
        jar.write(new byte[] {1, 2, 3});
      }
      zip.write(inner.toByteArray());
      for (String lib : libs) {
        zip.putNextEntry(new ZipEntry("BOOT-INF/lib/" + lib));
        zip.write(lib.getBytes());
      }
      zip.putNextEntry(new ZipEntry("BOOT-INF/lib/spring-core-7.jar"));
      zip.write(new byte[] {9});
    }
    return fat;
  }

  @Test
  void extractsTheSimulatorAndExactlyTheJarsItsManifestNamesReadableByEngines() throws Exception {
    Path fat = fatJar("netty-a.jar jackson-b.jar", "netty-a.jar", "jackson-b.jar");
    Path engines = dir.resolve("engines");

    Path jar = SimJar.extract(fat, engines).orElseThrow();

    assertThat(jar.getFileName().toString()).isEqualTo("engine-sim-0.1.0.jar");
    try (var files = Files.list(jar.getParent())) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder(
              "engine-sim-0.1.0.jar", "netty-a.jar", "jackson-b.jar", ".complete");
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(jar)))
        .isEqualTo("rw-r--r--");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(jar.getParent())))
        .isEqualTo("rwxr-xr-x");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(engines)))
        .isEqualTo("rwx--x--x");
    // A second start reuses the copy.
    long modified = Files.getLastModifiedTime(jar).toMillis();
    assertThat(SimJar.extract(fat, engines)).contains(jar);
    assertThat(Files.getLastModifiedTime(jar).toMillis()).isEqualTo(modified);
  }

  @Test
  void aJarWithoutTheSimulatorOrItsDependenciesFallsBack() throws Exception {
    Path engines = dir.resolve("engines");

    assertThat(SimJar.extract(fatJar(null), engines)).isEmpty();
    assertThat(SimJar.extract(fatJar("missing.jar"), engines)).isEmpty();
    assertThat(SimJar.extract(fatJar("../../etc/passwd", "x.jar"), engines)).isEmpty();
    Path notAZip = dir.resolve("other.jar");
    try (OutputStream out = Files.newOutputStream(notAZip)) {
      out.write("not a zip".getBytes());
    }
    assertThat(SimJar.extract(notAZip, engines)).isEmpty();
    // Nothing half-extracted is left to be taken for a complete copy.
    try (var left = Files.list(engines)) {
      assertThat(left).allMatch(p -> !Files.exists(p.resolve(".complete")));
    }
  }
}
