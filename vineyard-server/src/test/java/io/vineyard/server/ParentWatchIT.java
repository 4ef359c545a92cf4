package io.vineyard.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.testing.ChildJvm;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A test JVM that is killed (as a build does with one past its timeout) takes the daemons it started
 * with it, and they still clean up: {@link io.vineyard.testing.ParentWatch} ends each child when its
 * parent's pipe closes.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ParentWatchIT {

  @TempDir Path work;

  /** Run in a child JVM: starts a daemon the way tests do, says where it is, and waits to be killed. */
  public static final class StartsADaemon {
    public static void main(String[] args) throws Exception {
      DaemonProcess d = DaemonProcess.start(Path.of(args[0]), "16Mi");
      System.out.println("DAEMON " + d.pid() + " " + d.shmDir() + " " + d.socket());
      System.out.flush();
      Thread.sleep(Duration.ofMinutes(5));
    }
  }

  @Test
  void aDaemonEndsAndCleansUpWhenTheJvmThatStartedItIsKilled() throws Exception {
    Path log = work.resolve("parent.log");
    Path daemonWork = Files.createDirectories(work.resolve("d"));
    Process parent = ChildJvm.start(log, List.of(), StartsADaemon.class, daemonWork.toString());
    String[] line = new String[1];
    try {
      Poll.until(Duration.ofSeconds(60), Duration.ofMillis(50), "the child to start its daemon", () -> {
        if (!parent.isAlive()) {
          throw new AssertionError("the child exited with " + parent.exitValue() + ":\n" + Files.readString(log));
        }
        Optional<String> l = Files.readAllLines(log).stream().filter(s -> s.startsWith("DAEMON ")).findFirst();
        l.ifPresent(s -> line[0] = s);
        return l.isPresent();
      });
    } finally {
      parent.destroyForcibly(); // SIGKILL: no shutdown hook of the parent runs
    }
    assertTrue(parent.waitFor(30, TimeUnit.SECONDS));
    String[] f = line[0].split(" ");
    long pid = Long.parseLong(f[1]);
    Path shm = Path.of(f[2]);
    Path socket = Path.of(f[3]);
    // Taken once, while the daemon may still run: the handle knows the process's start time, so
    // it never stands for another process that reuses the pid later.
    Optional<ProcessHandle> daemon = ProcessHandle.of(pid);
    try {
      Poll.until(Duration.ofSeconds(30), Duration.ofMillis(50), "the orphaned daemon " + pid + " to exit",
          () -> daemon.map(h -> !h.isAlive() || isZombie(pid)).orElse(true));
    } finally {
      daemon.ifPresent(ProcessHandle::destroy); // not left running when this fails
    }
    // It exited through its shutdown hooks: its socket and its shared memory are gone, and so is
    // the directory DaemonProcess made for it, which the killed JVM could not remove.
    assertTrue(Files.notExists(socket), "socket left behind: " + socket);
    if (Files.exists(shm)) {
      try (Stream<Path> s = Files.walk(shm)) {
        List<Path> left = s.toList();
        Files.deleteIfExists(shm);
        throw new AssertionError("left behind in /dev/shm: " + left);
      }
    }
    String daemonLog = Files.readString(daemonWork.resolve("vineyardd.log"));
    assertTrue(daemonLog.contains("the JVM that started this process is gone"), daemonLog);
  }

  /**
   * Whether the process has exited but is not reaped yet (state Z): an orphan is its init's to
   * reap, which a container without one may never do, and {@link ProcessHandle#isAlive} counts it.
   */
  private static boolean isZombie(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
    } catch (java.io.IOException e) {
      return true; // gone
    }
  }
}
