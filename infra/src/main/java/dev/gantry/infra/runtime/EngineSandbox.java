package dev.gantry.infra.runtime;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.storage.LocalStorage;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What keeps an engine, which runs code chosen by a tenant, away from the platform and from other
 * tenants on the local runtime (docs/security.md is the operator's view):
 *
 * <ul>
 *   <li>a minimal environment built from nothing: a fixed {@code PATH}, a per-worker {@code HOME},
 *       {@code LANG}, the tenant's variables that {@link EngineEnvPolicy} allows, and the
 *       platform's own (port, GPUs), which win;
 *   <li>when the platform runs as root, a uid of the deployment's own from a configured range,
 *       taken on through {@code setpriv} with no supplementary groups, no capabilities and {@code
 *       no_new_privs}; the deployment's storage belongs to that uid and is closed to others;
 *   <li>a data dir others may only traverse ({@code 0711}): its secrets key, database, logs and pid
 *       files are owner-only, and {@code storage/} cannot be listed.
 * </ul>
 *
 * <p>The uid of a deployment is recorded by the owner of its storage directory: no other state, and
 * deleting the storage frees it. The storage tree is handed to the uid once, when no engine of the
 * deployment has run yet, so no engine can race the (root) walk with a symlink swap.
 */
final class EngineSandbox {
  private static final Logger log = LoggerFactory.getLogger(EngineSandbox.class);

  static final String LANG = "C.UTF-8";

  /** An engine user has no passwd entry; Python's {@code getpass.getuser()} reads these first. */
  static final String ENGINE_USER_NAME = "gantry-engine";

  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> TRAVERSE_ONLY =
      PosixFilePermissions.fromString("rwx--x--x");
  private static final Set<PosixFilePermission> READABLE_DIR =
      PosixFilePermissions.fromString("rwxr-xr-x");
  private static final Set<PosixFilePermission> READABLE_FILE =
      PosixFilePermissions.fromString("rw-r--r--");

  private static final List<String> SETPRIV_LOCATIONS =
      List.of("/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv");

  /** Directories directly in the data dir that engines must traverse; all else is owner-only. */
  private static final Set<String> ENGINE_FACING = Set.of("storage", "engines");

  /** The uid and gid an engine runs as; null {@link Identity} means the platform's own user. */
  record Identity(int uid, int gid) {}

  private final Path dataDir;
  private final Path storageRoot;
  private final Path enginesDir;
  private final Path homeRoot;
  private final Path classPathDir;
  private final boolean confined;
  private final int uidBase;
  private final int uidCount;
  private final String enginePath;
  private final EngineEnvPolicy envPolicy;
  private final ReentrantLock uidLock = new ReentrantLock();

  /**
   * @param confined whether engines get a uid of their own (the platform runs as root)
   */
  EngineSandbox(Path dataDir, GantryProperties.Containment settings, boolean confined) {
    this.dataDir = dataDir;
    this.storageRoot = dataDir.resolve("storage");
    this.enginesDir = dataDir.resolve("engines");
    this.homeRoot = enginesDir.resolve("home");
    this.classPathDir = enginesDir.resolve("classpath");
    this.confined = confined;
    this.uidBase = settings.uidBase();
    this.uidCount = settings.uidCount();
    this.enginePath = settings.enginePath();
    this.envPolicy = new EngineEnvPolicy(settings.extraEnv());
  }

  /** Root is uid 0: the owner of {@code /proc/self}, which is this process's effective uid. */
  static boolean platformIsRoot() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return false; // no procfs: not Linux, where setpriv does not exist either
    }
  }

  boolean confined() {
    return confined;
  }

  /**
   * Checks that engines can be confined here; throws with what to do when not. Cheap enough to run
   * before every launch, and at startup for a clear error before any deployment is accepted.
   */
  void checkUsable() {
    if (!confined) {
      return;
    }
    setpriv();
    try {
      Files.createDirectories(dataDir);
      Path closed = firstClosedAncestor(dataDir.toRealPath());
      if (closed != null) {
        throw new IllegalStateException(
            ("Gantry runs as root, so engines run as uids of their own, and those cannot reach the"
                    + " data dir %s: %s is not searchable by other users. Set gantry.data-dir to a"
                    + " directory whose parents are (for example /var/lib/gantry), or run Gantry"
                    + " as a non-root user.")
                .formatted(dataDir, closed));
      }
      // Closed from the start, not only from the first engine on: the database and the logs are
      // created world-readable before any engine exists.
      harden();
    } catch (IOException e) {
      throw new IllegalStateException("cannot inspect the data dir " + dataDir + ": " + e, e);
    }
  }

  private static String setpriv() {
    return SETPRIV_LOCATIONS.stream()
        .filter(p -> Files.isExecutable(Path.of(p)))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalStateException(
                    "Gantry runs as root and starts engines as unprivileged uids through setpriv,"
                        + " which is not installed: install util-linux (apt-get install"
                        + " util-linux), or run Gantry as a non-root user."));
  }

  /** The nearest ancestor of {@code dir} that others cannot search, or null. */
  static Path firstClosedAncestor(Path dir) throws IOException {
    for (Path p = dir.getParent(); p != null; p = p.getParent()) {
      if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
        return p;
      }
    }
    return null;
  }

  /**
   * Readies the data dir and the deployment's storage for one engine launch; returns the identity
   * the engine runs as, null when not confined.
   */
  Identity prepare(String deploymentId, Path storageDir) throws IOException {
    if (!confined) {
      return null;
    }
    Path parent = storageDir.toAbsolutePath().normalize().getParent();
    if (parent == null || !parent.equals(storageRoot)) {
      // The tree is handed to the engine's uid: it must be a deployment's storage, nothing else.
      throw new IllegalArgumentException(
          "not a deployment storage directory under " + storageRoot + ": " + storageDir);
    }
    harden();
    int uid = uidOf(deploymentId, storageDir);
    return new Identity(uid, uid);
  }

  /** Data dir {@code 0711}; everything in it owner-only except the engine-facing directories. */
  private void harden() throws IOException {
    Files.createDirectories(storageRoot);
    Files.createDirectories(homeRoot);
    Files.setPosixFilePermissions(dataDir, TRAVERSE_ONLY);
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dataDir)) {
      for (Path entry : entries) {
        if (Files.isSymbolicLink(entry)) {
          continue;
        }
        if (ENGINE_FACING.contains(entry.getFileName().toString())) {
          Files.setPosixFilePermissions(entry, TRAVERSE_ONLY);
        } else {
          Set<PosixFilePermission> perms = Files.getPosixFilePermissions(entry);
          Set<PosixFilePermission> ownerOnly =
              perms.stream()
                  .filter(p -> p.name().startsWith("OWNER_"))
                  .collect(Collectors.toCollection(HashSet::new));
          if (!ownerOnly.equals(perms)) {
            Files.setPosixFilePermissions(entry, ownerOnly);
          }
        }
      }
    }
    Files.setPosixFilePermissions(homeRoot, TRAVERSE_ONLY);
  }

  /**
   * The deployment's uid: its storage directory's owner once assigned; otherwise the lowest free
   * uid of the range (neither owning another storage nor running a process), to which the storage
   * tree is then handed, the directory itself last so a crash mid-walk repeats the walk.
   */
  private int uidOf(String deploymentId, Path storageDir) throws IOException {
    uidLock.lock();
    try {
      Files.createDirectories(storageDir);
      int owner = ownerOf(storageDir);
      if (inRange(owner)) {
        return owner;
      }
      Set<Integer> taken = new HashSet<>();
      try (DirectoryStream<Path> dirs = Files.newDirectoryStream(storageRoot)) {
        for (Path dir : dirs) {
          if (!dir.equals(storageDir) && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            taken.add(ownerOf(dir));
          }
        }
      }
      taken.addAll(processOwners());
      int uid = -1;
      for (int candidate = uidBase; candidate - uidBase < uidCount; candidate++) {
        if (!taken.contains(candidate)) {
          uid = candidate;
          break;
        }
      }
      if (uid < 0) {
        throw new WorkerRuntimeException(
            FailureType.TRANSIENT,
            "no free engine uid left in gantry.runtime.local.containment (%d from %d); raise"
                    .formatted(uidCount, uidBase)
                + " uid-count");
      }
      chownTree(storageDir, uid);
      Files.setPosixFilePermissions(storageDir, OWNER_ONLY);
      log.info("deployment {} runs its engines as uid {}", deploymentId, uid);
      return uid;
    } finally {
      uidLock.unlock();
    }
  }

  private boolean inRange(int uid) {
    return uid >= uidBase && uid - uidBase < uidCount;
  }

  private static int ownerOf(Path path) throws IOException {
    return (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
  }

  /** Uids of running processes: a uid still running a stray engine is not handed out again. */
  private static Set<Integer> processOwners() {
    Set<Integer> owners = new HashSet<>();
    for (Proc proc : processes()) {
      proc.uids().stream()
          .filter(u -> u <= Integer.MAX_VALUE)
          .forEach(u -> owners.add((int) (long) u));
    }
    return owners;
  }

  /** A running process, every uid it holds (real, effective, saved, file system), and its state. */
  private record Proc(long pid, Set<Long> uids, boolean zombie) {}

  /**
   * The running processes, with their uids read from {@code /proc/<pid>/status}, not from the owner
   * of {@code /proc/<pid>}: a process that made itself non-dumpable ({@code prctl}) shows root as
   * that owner, and would hide from the scans that keep a uid from being reused or reclaimed.
   */
  private static List<Proc> processes() {
    List<Proc> found = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      procs
          .filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .forEach(
              p -> {
                try {
                  Set<Long> uids = new HashSet<>();
                  boolean zombie = false;
                  for (String line : Files.readAllLines(p.resolve("status"))) {
                    if (line.startsWith("Uid:")) {
                      for (String field : line.substring(4).trim().split("\\s+")) {
                        uids.add(Long.parseLong(field));
                      }
                    } else if (line.startsWith("State:")) {
                      zombie = line.substring(6).trim().startsWith("Z");
                    }
                  }
                  found.add(new Proc(Long.parseLong(p.getFileName().toString()), uids, zombie));
                } catch (IOException | NumberFormatException e) {
                  // the process ended while we looked
                }
              });
    } catch (IOException e) {
      log.warn("cannot list /proc", e);
    }
    return found;
  }

  /** lchown of every entry, children before their directory; symlinks are never followed. */
  private static void chownTree(Path root, int uid) throws IOException {
    Files.walkFileTree(
        root,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            chown(file, uid);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
            if (e != null) {
              throw e;
            }
            chown(dir, uid);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  private static void chown(Path path, int uid) throws IOException {
    Files.setAttribute(path, "unix:gid", uid, LinkOption.NOFOLLOW_LINKS);
    Files.setAttribute(path, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
  }

  /**
   * Takes a deployment's storage back before it is deleted: the directory becomes root's and
   * closed, so no path through it resolves for the engine uid any more, then every process still
   * running as that uid is killed (an engine can leave a daemon that is no longer in its process
   * tree), so none can swap a directory for a symlink while root walks the tree to delete it.
   */
  void reclaim(String deploymentId, Path storageDir) throws IOException {
    if (!confined || !Files.isDirectory(storageDir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    int uid = ownerOf(storageDir);
    if (!inRange(uid)) {
      return;
    }
    chown(storageDir, 0);
    Files.setPosixFilePermissions(storageDir, OWNER_ONLY);
    for (int round = 0; round < RECLAIM_ROUNDS; round++) {
      List<ProcessHandle> left = processesOf(uid);
      if (left.isEmpty()) {
        return;
      }
      log.warn(
          "deployment {}: killing {} process(es) still running as its engine uid {}",
          deploymentId,
          left.size(),
          uid);
      left.forEach(ProcessHandle::destroyForcibly);
      for (ProcessHandle process : left) {
        try {
          process.onExit().get(1, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
          // counted again in the next round
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while stopping the processes of uid " + uid, e);
        }
      }
    }
    if (!processesOf(uid).isEmpty()) {
      throw new IOException("processes of uid " + uid + " keep coming back; not removing");
    }
  }

  private static final int RECLAIM_ROUNDS = 10;

  /** Live processes that hold {@code uid} in any of their uids; zombies have exited already. */
  private static List<ProcessHandle> processesOf(int uid) {
    List<ProcessHandle> found = new ArrayList<>();
    for (Proc proc : processes()) {
      if (!proc.zombie() && proc.uids().contains((long) uid)) {
        ProcessHandle.of(proc.pid()).ifPresent(found::add);
      }
    }
    return found;
  }

  /**
   * A fresh, empty home for the worker's engine, owned by its uid: caches (Hugging Face, torch
   * compile, Triton) land there and go with the worker.
   */
  Path freshHome(String workerId, Identity identity) throws IOException {
    Path home = homeRoot.resolve(workerId);
    removeEngineTree(home);
    Files.createDirectories(home);
    Files.setPosixFilePermissions(home, OWNER_ONLY);
    if (identity != null) {
      chown(home, identity.uid());
    }
    return home;
  }

  /** Removes the worker's home once its engine is gone. */
  void removeHome(String workerId) {
    try {
      removeEngineTree(homeRoot.resolve(workerId));
    } catch (IOException e) {
      log.warn("cannot remove the home of worker {}: {}", workerId, e.toString());
    }
  }

  /**
   * Deletes a tree an engine uid owns. Not as root: other engines of the deployment (same uid) may
   * still run and could swap a directory for a symlink while root walks the tree, steering the
   * deletion onto any file of the host; as the uid itself, {@code rm} can only delete what the
   * engines could delete anyway. The directory's own entry, in a root-owned parent, is removed by
   * root afterwards.
   */
  private void removeEngineTree(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    int owner = ownerOf(dir);
    if (!confined || !inRange(owner) || Files.isSymbolicLink(dir)) {
      LocalStorage.deleteTree(dir);
      return;
    }
    String rm = resolve("rm").map(Path::toString).orElse("/bin/rm");
    Process process =
        new ProcessBuilder(
                setpriv(),
                "--reuid=" + owner,
                "--regid=" + owner,
                "--clear-groups",
                "--no-new-privs",
                "--",
                rm,
                "-rf",
                "--one-file-system",
                "--",
                dir.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      if (!process.waitFor(RM_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("removing " + dir + " as uid " + owner + " timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new IOException("interrupted while removing " + dir, e);
    }
    // rm could not unlink the directory itself from its root-owned parent.
    Files.deleteIfExists(dir);
  }

  private static final int RM_TIMEOUT_SECONDS = 60;

  /**
   * The engine's whole environment, built from nothing: nothing of the platform's own environment
   * (its secrets, {@code JAVA_TOOL_OPTIONS}, {@code LD_*}...) is inherited, and a tenant variable
   * that is not allowed is dropped, even one stored before the rule existed.
   *
   * @param tenant the deployment's env, secret values resolved
   * @param platform what the launch spec sets (port, GPUs, offline mode); wins over the tenant
   * @param dropped receives the names of tenant variables left out
   */
  Map<String, String> environment(
      Map<String, String> tenant, Map<String, String> platform, Path home, Set<String> dropped) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", enginePath);
    env.put("HOME", home.toString());
    // Temporary files in the worker's own home: a shared /tmp path keyed by the user name (all
    // engines share one), such as torch's compile cache, would be another tenant's to take.
    env.put("TMPDIR", home.toString());
    env.put("LANG", LANG);
    env.put("USER", ENGINE_USER_NAME);
    env.put("LOGNAME", ENGINE_USER_NAME);
    new TreeSet<>(tenant.keySet())
        .forEach(
            name -> {
              if (envPolicy.allows(name)) {
                env.put(name, tenant.get(name));
              } else {
                dropped.add(name);
              }
            });
    env.putAll(platform);
    return env;
  }

  /** The program as an absolute path: a bare name is looked up on the engine {@code PATH}. */
  Optional<Path> resolve(String binary) {
    if (binary.contains("/")) {
      Path path = Path.of(binary);
      return Files.exists(path) ? Optional.of(path) : Optional.empty();
    }
    return Arrays.stream(enginePath.split(File.pathSeparator))
        .filter(dir -> !dir.isEmpty())
        .map(dir -> Path.of(dir, binary))
        .filter(Files::isExecutable)
        .findFirst();
  }

  /** Whether the engine's uid can reach (and read, or run) the path: searchable parents. */
  static boolean openToOthers(Path path) throws IOException {
    Path real = path.toRealPath();
    if (firstClosedAncestor(real) != null) {
      return false;
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(real);
    return perms.contains(PosixFilePermission.OTHERS_READ)
        || perms.contains(PosixFilePermission.OTHERS_EXECUTE);
  }

  /**
   * The launch command for a confined engine: {@code setpriv} to the identity, then the program,
   * with a {@code sim} class path that the uid cannot reach (a JDK's Maven repository under a
   * {@code 0700} home) staged into the data dir first.
   */
  List<String> confine(List<String> command, Framework framework, Identity identity)
      throws IOException {
    if (identity == null) {
      return command;
    }
    List<String> confined = new ArrayList<>();
    confined.addAll(
        List.of(
            setpriv(),
            "--reuid=" + identity.uid(),
            "--regid=" + identity.gid(),
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--"));
    for (int i = 0; i < command.size(); i++) {
      String arg = command.get(i);
      confined.add(arg);
      boolean classPath =
          framework == Framework.SIM
              && (arg.equals("-cp") || arg.equals("-classpath") || arg.equals("-jar"))
              && i + 1 < command.size();
      if (classPath) {
        confined.add(stageClassPath(command.get(++i)));
      }
    }
    return confined;
  }

  /**
   * Entries the engine's uid cannot reach are linked (or, across file systems, copied) into {@code
   * <data dir>/engines/classpath}: root-owned, readable, not writable by engines.
   */
  private String stageClassPath(String classPath) throws IOException {
    List<String> staged = new ArrayList<>();
    for (String entry : classPath.split(File.pathSeparator)) {
      if (entry.isEmpty()) {
        continue;
      }
      Path source = Path.of(entry);
      if (!Files.exists(source) || openToOthers(source)) {
        staged.add(entry);
        continue;
      }
      Files.createDirectories(classPathDir);
      Files.setPosixFilePermissions(enginesDir, TRAVERSE_ONLY);
      Files.setPosixFilePermissions(classPathDir, TRAVERSE_ONLY);
      Path target = classPathDir.resolve(digest(source) + "-" + source.getFileName());
      if (Files.isDirectory(source)) {
        copyTree(source, target);
      } else {
        stageFile(source, target);
      }
      staged.add(target.toString());
    }
    return String.join(File.pathSeparator, staged);
  }

  private static void stageFile(Path source, Path target) throws IOException {
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)
        && Files.size(target) == Files.size(source)
        && Files.getLastModifiedTime(target).equals(Files.getLastModifiedTime(source))) {
      return;
    }
    Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    // A hard link shares the source's inode and mode: only for a file others may read already.
    boolean linked = false;
    if (Files.getPosixFilePermissions(source).contains(PosixFilePermission.OTHERS_READ)) {
      try {
        Files.createLink(tmp, source);
        linked = true;
      } catch (IOException | UnsupportedOperationException e) {
        log.debug("cannot link {} into {}; copying it", source, tmp, e);
      }
    }
    if (!linked) {
      Files.copy(source, tmp);
      Files.setLastModifiedTime(tmp, Files.getLastModifiedTime(source));
      Files.setPosixFilePermissions(tmp, READABLE_FILE);
    }
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void copyTree(Path source, Path target) throws IOException {
    Files.walkFileTree(
        source,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
              throws IOException {
            Path to = target.resolve(source.relativize(dir).toString());
            Files.createDirectories(to);
            Files.setPosixFilePermissions(to, READABLE_DIR);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Path to = target.resolve(source.relativize(file).toString());
            FileTime modified = attrs.lastModifiedTime();
            if (!Files.exists(to)
                || Files.size(to) != attrs.size()
                || !Files.getLastModifiedTime(to).equals(modified)) {
              Files.copy(file, to, StandardCopyOption.REPLACE_EXISTING);
              Files.setLastModifiedTime(to, modified);
              Files.setPosixFilePermissions(to, READABLE_FILE);
            }
            return FileVisitResult.CONTINUE;
          }
        });
  }

  private static String digest(Path path) {
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256")
              .digest(
                  path.toAbsolutePath().normalize().toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(hash, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
