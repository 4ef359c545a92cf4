package io.vineyard.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;

/**
 * The entry point of every JVM {@link ChildJvm#start} starts: runs the named main class, and ends
 * this JVM when the test JVM that started it is gone.
 *
 * <p>The child's standard input is a pipe whose other end only the parent holds and never writes;
 * when the parent exits, however it exits (a {@code kill -9} of a test JVM that hit its timeout
 * included), the pipe reads end-of-file, and this JVM exits through {@link System#exit}, so a
 * daemon's shutdown hooks still remove its socket and shared memory. Without it, a daemon whose test
 * JVM was killed ran on and held its memory until someone found it. The process id, the command
 * line (it names the real main class next) and the exit status are the child's own.
 */
public final class ParentWatch {

  /**
   * A system property naming a directory the parent made for this child (a daemon's shared-memory
   * directory): removed when the parent is gone, once this JVM's other shutdown hooks have emptied it.
   */
  public static final String REMOVE_WHEN_ORPHANED = "vineyard.testing.removeWhenOrphaned";

  private ParentWatch() {}

  /**
   * Deletes {@code dir} as soon as it is empty, waiting up to 5 s for the other hooks (the daemon's)
   * to empty it; then deletes what is left in it too (a daemon whose parent died while it was still
   * starting had no hook yet). The directory is the child's own: nothing else uses it.
   */
  private static void removeOnceEmpty(Path dir) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (System.nanoTime() < deadline) {
      try {
        Files.deleteIfExists(dir);
        return;
      } catch (DirectoryNotEmptyException e) {
        try {
          Thread.sleep(20);
        } catch (InterruptedException stop) {
          break;
        }
      } catch (IOException e) {
        return;
      }
    }
    try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | java.io.UncheckedIOException e) {
      // best effort: the process is ending
    }
  }

  /** {@code args[0]}: the main class to run; the rest: its arguments. */
  public static void main(String[] args) throws Throwable {
    if (args.length == 0) {
      throw new IllegalArgumentException("usage: ParentWatch MAIN_CLASS [ARGS...]");
    }
    InputStream in = System.in;
    Thread.ofPlatform().daemon().name("vineyard-parent-watch").start(() -> {
      try {
        byte[] skip = new byte[256];
        while (in.read(skip) >= 0) {
          // the parent never writes; anything read is dropped
        }
      } catch (IOException e) {
        // a broken pipe says the same as end-of-file
      }
      System.err.println("ParentWatch: the JVM that started this process is gone (its pipe closed): exiting");
      String dir = System.getProperty(REMOVE_WHEN_ORPHANED);
      if (dir != null) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> removeOnceEmpty(Path.of(dir)), "vineyard-parent-watch-clean"));
      }
      System.exit(3);
    });
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    Class<?> main = Class.forName(args[0]);
    try {
      // As the java launcher would: the class need not be public (test programs are often nested
      // in package-private classes), and main may take no arguments or be an instance method.
      Method m;
      Object[] call;
      try {
        m = main.getDeclaredMethod("main", String[].class);
        call = new Object[] {rest};
      } catch (NoSuchMethodException e) {
        try {
          m = main.getDeclaredMethod("main");
          call = new Object[0];
        } catch (NoSuchMethodException again) {
          m = main.getMethod("main", String[].class); // inherited
          call = new Object[] {rest};
        }
      }
      m.setAccessible(true);
      Object target = null;
      if (!Modifier.isStatic(m.getModifiers())) {
        var c = main.getDeclaredConstructor();
        c.setAccessible(true);
        target = c.newInstance();
      }
      m.invoke(target, call);
    } catch (InvocationTargetException e) {
      throw e.getCause(); // as if the main class had been started directly
    }
  }
}
