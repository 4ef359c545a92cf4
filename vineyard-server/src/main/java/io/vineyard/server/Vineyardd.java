package io.vineyard.server;

import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.server.ipc.IpcServer;
import io.vineyard.server.memory.SharedMemory;
import io.vineyard.server.memory.SpillFiles;
import io.vineyard.server.store.ObjectStore;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vineyardd}: the per-node daemon. Holds sealed blobs in shared memory and serves clients on
 * a UNIX-domain socket; metadata is kept locally.
 */
@Command(
    name = "vineyardd",
    mixinStandardHelpOptions = true,
    versionProvider = Vineyardd.Version.class,
    sortOptions = false,
    showDefaultValues = true,
    description =
        "Vineyard daemon: keeps immutable objects in shared memory and serves them zero-copy to"
            + " clients on this node over a UNIX-domain socket.%n",
    footer = {
      "",
      "Examples:",
      "  vineyardd --socket /tmp/vineyard.sock --size 2Gi",
      "  vineyardd --size 8Gi --reserve-memory --shm-dir /dev/shm/vineyard",
      "  vineyardd --size 4Gi --spill-dir /var/lib/vineyard/spill",
      "",
      "JVM options go in VINEYARDD_JAVA_OPTS (default -Xmx512m).",
      ""
    })
public final class Vineyardd implements Callable<Integer>, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Vineyardd.class);

  @Option(
      names = "--socket",
      paramLabel = "PATH",
      description = "UNIX-domain socket to listen on (default: $VINEYARD_IPC_SOCKET, else /var/run/vineyard.sock"
          + " for root, ~/.local/vineyard/vineyard.sock for others).")
  Path socket;

  @Option(names = "--size", paramLabel = "SIZE", defaultValue = "1Gi",
      description = "Shared-memory capacity, e.g. 512Mi, 2Gi, 8G.")
  String size;

  @Option(names = "--shm-dir", paramLabel = "DIR", defaultValue = "/dev/shm/vineyard",
      description = "Directory (on tmpfs) for the shared-memory files; each daemon uses a private subdirectory.")
  Path shmDir;

  @Option(names = "--reserve-memory", defaultValue = "false",
      description = "Allocate and pre-fault all of --size at start, so writes never pay first-touch page faults"
          + " and a too-small tmpfs is reported at once.")
  boolean reserveMemory;

  @Option(names = "--spill-dir", paramLabel = "DIR",
      description = "Where sealed, unpinned blobs go when memory runs short (least recently used first); they are"
          + " loaded back on get. Without it, a create that does not fit fails with an out-of-memory error.")
  Path spillDir;

  @Option(names = "--spill-upper", paramLabel = "FRACTION", defaultValue = "0.8",
      description = "With --spill-dir: start spilling when resident memory exceeds this fraction of --size.")
  double spillUpper;

  @Option(names = "--spill-lower", paramLabel = "FRACTION", defaultValue = "0.5",
      description = "With --spill-dir: spill until resident memory is at most this fraction of --size.")
  double spillLower;

  @Option(names = "--socket-mode", paramLabel = "MODE", defaultValue = "rw-rw----",
      description = "Permissions of the socket file: who may connect.")
  String socketMode;

  @Option(names = "--instance-id", paramLabel = "ID", defaultValue = "0",
      description = "This daemon's instance id (0..32767), embedded in every object id it mints.")
  long instanceId;

  @Option(names = "--max-frame", paramLabel = "SIZE", defaultValue = "64Mi",
      description = "Largest request a client may send; larger ones close that client's connection.")
  String maxFrame;

  @Option(names = "--io-threads", paramLabel = "N", defaultValue = "2",
      description = "Event-loop threads serving clients.")
  int ioThreads;

  @Option(names = "--list-limit", paramLabel = "N", defaultValue = "10000",
      description = "Objects returned by a listing that does not set its own limit.")
  int listLimit;

  private final CountDownLatch stopped = new CountDownLatch(1);
  private SharedMemory shm;
  private SpillFiles spill;
  private IpcServer server;
  private ObjectStore store;

  /** Starts the daemon with the parsed options; returns once it is serving. */
  public void start() {
    Path sock = socket != null ? socket : IpcClient.defaultSocket();
    long capacity = MemorySize.parse(size);
    long frame = MemorySize.parse(maxFrame);
    if (frame < 1024 || frame > Integer.MAX_VALUE - 8) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--max-frame must be between 1Ki and 2Gi");
    }
    if (ioThreads < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--io-threads must be at least 1");
    }
    if (instanceId < 0 || instanceId > ObjectId.MAX_INSTANCE_ID) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--instance-id must be between 0 and " + ObjectId.MAX_INSTANCE_ID);
    }
    try {
      PosixFilePermissions.fromString(socketMode);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--socket-mode must look like rw-rw----, got '" + socketMode + "'");
    }
    if (!(spillLower > 0 && spillLower < spillUpper && spillUpper <= 1)) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--spill-lower and --spill-upper must satisfy 0 < lower < upper <= 1");
    }
    long started = System.nanoTime();
    try {
      startServing(sock, capacity, (int) frame);
    } catch (RuntimeException e) {
      close(); // leave no shared memory, spill directory or socket behind
      throw e;
    }
    LOG.info(
        "vineyardd {} ready: instance {}, {} of shared memory in {}{}, started in {} ms",
        Version.VERSION, instanceId, MemorySize.format(capacity), shm.directory(),
        reserveMemory ? " (reserved)" : "", (System.nanoTime() - started) / 1_000_000);
  }

  private void startServing(Path sock, long capacity, int frame) {
    shm = SharedMemory.create(shmDir, capacity, reserveMemory);
    ObjectStore.Tiering tiering = null;
    if (spillDir != null) {
      spill = SpillFiles.create(spillDir);
      tiering = new ObjectStore.Tiering(shm.mapping(), spill, spillUpper, spillLower);
      LOG.info("spilling to {} above {}% of memory, down to {}%", spill.directory(), Math.round(spillUpper * 100),
          Math.round(spillLower * 100));
    }
    store = new ObjectStore(instanceId, shm.size(), listLimit, tiering);
    server = IpcServer.start(sock, socketMode, ioThreads, frame, store, shm, Version.VERSION);
  }

  public ObjectStore store() {
    return store;
  }

  public Path socketPath() {
    return server.socket();
  }

  @Override
  public Integer call() {
    start();
    Runtime.getRuntime().addShutdownHook(new Thread(this::close, "vineyardd-shutdown"));
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  /** Stops serving, unmaps and removes the shared memory and the socket. */
  @Override
  public synchronized void close() {
    if (server != null) {
      LOG.info("shutting down");
      server.close();
      server = null;
    }
    if (shm != null) {
      shm.close();
      shm = null;
    }
    if (spill != null) {
      spill.close();
      spill = null;
    }
    stopped.countDown();
  }

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new Vineyardd());
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (ex instanceof VineyardException ve) {
            cmd.getErr().println("vineyardd: " + ve.getMessage());
            return 1;
          }
          throw ex;
        });
    int code = cl.execute(args);
    System.exit(code);
  }

  /** The daemon's version, from the jar manifest when built, else a development marker. */
  static final class Version implements CommandLine.IVersionProvider {
    static final String VERSION =
        Vineyardd.class.getPackage().getImplementationVersion() != null
            ? Vineyardd.class.getPackage().getImplementationVersion()
            : "dev";

    @Override
    public String[] getVersion() {
      return new String[] {"vineyardd " + VERSION};
    }
  }
}
