package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.gantry.api.deployment.Framework;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineSandboxTest {
  @TempDir Path tmp;

  private EngineSandbox sandbox(Path dataDir, boolean confined, Map<String, String> settings) {
    return new EngineSandbox(
        dataDir, TestProperties.bind(dataDir, settings).runtime().local().containment(), confined);
  }

  @Test
  void theEnvironmentIsBuiltFromNothingAndThePlatformsVariablesWin() {
    EngineSandbox sandbox =
        sandbox(
            tmp,
            false,
            Map.of(
                "runtime.local.containment.engine-path",
                "/opt/venv/bin:/usr/bin",
                "runtime.local.containment.extra-env[0]",
                "MY_TUNING"));
    Set<String> dropped = new TreeSet<>();

    Map<String, String> env =
        sandbox.environment(
            Map.of(
                "HF_TOKEN", "t",
                "MY_TUNING", "1",
                "LD_PRELOAD", "/x.so",
                "HOME", "/root",
                "CUDA_VISIBLE_DEVICES", "0,1,2,3",
                "UNKNOWN_THING", "y"),
            Map.of("CUDA_VISIBLE_DEVICES", "2", "HF_HUB_OFFLINE", "1"),
            Path.of("/data/engines/home/dep_abcdef-w1"),
            dropped);

    assertThat(env)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "PATH", "/opt/venv/bin:/usr/bin",
                "HOME", "/data/engines/home/dep_abcdef-w1",
                "TMPDIR", "/data/engines/home/dep_abcdef-w1",
                "LANG", "C.UTF-8",
                "USER", "gantry-engine",
                "LOGNAME", "gantry-engine",
                "HF_TOKEN", "t",
                "MY_TUNING", "1",
                "CUDA_VISIBLE_DEVICES", "2",
                "HF_HUB_OFFLINE", "1"));
    assertThat(dropped)
        .containsExactly("CUDA_VISIBLE_DEVICES", "HOME", "LD_PRELOAD", "UNKNOWN_THING");
  }

  @Test
  void unconfinedEnginesRunAsTheyAreWithoutSetpriv() throws Exception {
    EngineSandbox sandbox = sandbox(tmp, false, Map.of());
    List<String> command = List.of("/usr/bin/java", "-cp", "/root/.m2/x.jar", "Main");

    assertThat(sandbox.prepare("dep_abcdef", tmp.resolve("storage/dep_abcdef"))).isNull();
    assertThat(sandbox.confine(command, Framework.SIM, null)).isEqualTo(command);
    sandbox.checkUsable(); // nothing to check
  }

  @Test
  void aDataDirBehindAClosedDirectoryIsAClearErrorWhenConfined() throws Exception {
    assumeThat(EngineSandbox.platformIsRoot()).as("setpriv needs root").isTrue();
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
    Path closed = tmp.resolve("home");
    Files.createDirectories(closed.resolve(".gantry"));
    Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));

    assertThatThrownBy(() -> sandbox(closed.resolve(".gantry"), true, Map.of()).checkUsable())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(closed + " is not searchable by other users")
        .hasMessageContaining("Set gantry.data-dir");
    Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx--x--x"));
    sandbox(closed.resolve(".gantry"), true, Map.of()).checkUsable();
  }

  @Test
  void theDataDirIsClosedAtStartBeforeAnyEngineRuns() throws Exception {
    assumeThat(EngineSandbox.platformIsRoot()).as("setpriv needs root").isTrue();
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
    Path dataDir = tmp.resolve("data");
    Files.createDirectories(dataDir.resolve("db"));
    Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(
        dataDir.resolve("db"), PosixFilePermissions.fromString("rwxr-xr-x"));

    sandbox(dataDir, true, Map.of()).checkUsable();

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir)))
        .isEqualTo("rwx--x--x");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve("db"))))
        .isEqualTo("rwx------");
  }

  @Test
  void onlyADeploymentsStorageDirectoryIsEverHandedToAnEngineUid() {
    assumeThat(EngineSandbox.platformIsRoot()).as("setpriv needs root").isTrue();
    EngineSandbox sandbox = sandbox(tmp, true, Map.of());

    for (Path wrong : List.of(tmp, tmp.resolve("db"), tmp.resolve("storage/a/b"), Path.of("/"))) {
      assertThatThrownBy(() -> sandbox.prepare("dep_abcdef", wrong))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void pathsUnderAClosedDirectoryAreNotOpenToOthers() throws Exception {
    Path closed = tmp.resolve("closed");
    Path file = closed.resolve("a.jar");
    Files.createDirectories(closed);
    Files.writeString(file, "x");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
    Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));

    assertThat(EngineSandbox.openToOthers(file)).isFalse();
    Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx--x--x"));
    assertThat(EngineSandbox.openToOthers(file)).isTrue();
  }
}
