package io.vineyard.server;

import io.vineyard.ErrorCode;
import io.vineyard.MemorySize;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.HostPort;
import io.vineyard.InstanceInfo;
import io.vineyard.server.cluster.Cluster;
import io.vineyard.server.cluster.EtcdMetadata;
import io.vineyard.server.cluster.LocalMetadata;
import io.vineyard.server.cluster.MetadataBackend;
import io.vineyard.server.ipc.IpcLimits;
import io.vineyard.server.ipc.IpcServer;
import io.vineyard.server.ipc.SocketAccess;
import io.vineyard.server.rpc.RpcSecurity;
import io.vineyard.server.rpc.RpcServer;
import io.vineyard.server.store.RequestLimits;
import io.vineyard.server.memory.MemoryArena;
import io.vineyard.server.service.DaemonService;
import io.vineyard.server.memory.SpillFiles;
import io.vineyard.server.store.ObjectStore;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vineyardd}: the per-node daemon. Holds sealed blobs in shared memory and serves clients on
 * a UNIX-domain socket; serves metadata and blob bytes to remote clients and peers on a gRPC port;
 * keeps cluster metadata locally or in etcd.
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
      "  vineyardd --meta etcd --etcd-endpoints http://10.0.0.5:2379 --rpc-host 0.0.0.0 \\",
      "      --tls-cert node.pem --tls-key node.key --tls-peer-ca ca.pem --cluster-token-file cluster.token",
      "  vineyardd --config /etc/vineyard/vineyardd.conf --size 4Gi",
      "",
      "A --config file holds the same settings as the flags, one 'key = value' a line, the keys being"
          + " the flags without '--' (size = 2Gi, reserve-memory = true, meta = etcd); '#' starts a comment."
          + " Flags given on the command line win over the file; an unknown key is refused.",
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

  @Option(names = "--allow-uids", paramLabel = "UID[,UID]", split = ",",
      description = "Admit on the socket only these users (and --allow-gids, and the daemon's own user), checked on"
          + " each connection's peer credentials; refusals are logged. Default: whoever --socket-mode lets in.")
  java.util.List<Integer> allowUids = new java.util.ArrayList<>();

  @Option(names = "--isolation", paramLabel = "none|user", defaultValue = "none",
      description = "none: every client may write in the one shared region, so a client that creates blobs can"
          + " reach other clients' blobs (clients trust each other). user: each user's clients write in regions of"
          + " their own (by peer credentials) and only read other users' blobs. Default: none.")
  String isolation;

  @Option(names = "--allow-gids", paramLabel = "GID[,GID]", split = ",",
      description = "Admit on the socket peers whose primary group is one of these (see --allow-uids).")
  java.util.List<Integer> allowGids = new java.util.ArrayList<>();

  @Option(names = "--instance-id", paramLabel = "ID",
      description = "This daemon's instance id (0..32767), embedded in every object id it mints. Default: 0 with"
          + " local metadata; with etcd, the lowest id no live instance holds (allocated in a transaction).")
  Long instanceId;

  /** Where cluster metadata lives. */
  public enum Meta { local, etcd }

  @Option(names = "--meta", paramLabel = "BACKEND", defaultValue = "local",
      description = "Metadata backend: local (this daemon only) or etcd (shared by every daemon of the cluster).")
  Meta meta;

  @Option(names = "--etcd-endpoints", paramLabel = "URL[,URL]", defaultValue = "http://127.0.0.1:2379",
      description = "With --meta etcd: the etcd endpoints.")
  String etcdEndpoints;

  @Option(names = "--etcd-prefix", paramLabel = "PREFIX", defaultValue = "/vineyard",
      description = "With --meta etcd: key prefix of this cluster, so several clusters can share one etcd.")
  String etcdPrefix;

  @Option(names = "--etcd-lease-ttl", paramLabel = "SECONDS", defaultValue = "10",
      description = "With --meta etcd: how long after this daemon stops heartbeating (it died) it drops out of the"
          + " cluster, with everything it published.")
  int etcdLeaseTtl;

  @Option(names = "--etcd-timeout", paramLabel = "SECONDS", defaultValue = "5",
      description = "With --meta etcd: how long one etcd call may take before the request fails as unavailable.")
  int etcdTimeout;

  @Option(names = "--rpc-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
      description = "Address the gRPC port binds to (0.0.0.0 for every interface); also what other daemons are"
          + " told to connect to, unless it is a wildcard (then this host's name).")
  String rpcHost;

  /** The gRPC port when --rpc-port is not given. */
  public static final int DEFAULT_RPC_PORT = 9600;

  @Option(names = "--rpc-port", paramLabel = "PORT",
      description = "The gRPC port for remote clients and peer daemons; 0 picks a free one. Default: 9600; with"
          + " --meta local, when 9600 is taken (another daemon on this host), a free port instead, printed at start"
          + " and shown by `vineyardctl stats`.")
  Integer rpcPort;

  @Option(names = "--rpc-token-file", paramLabel = "FILE",
      description = "Bearer tokens the gRPC port accepts, one a line (repeatable; read again when changed, for"
          + " rotation). Local clients need none: the daemon writes a token of its own next to the socket"
          + " (<socket>.token), readable by those who may connect to the socket.")
  java.util.List<Path> rpcTokenFiles = new java.util.ArrayList<>();

  @Option(names = "--cluster-token-file", paramLabel = "FILE",
      description = "Tokens the daemons of this cluster use with each other for migration: accepted on the gRPC"
          + " port, and the first one sent to peers. Give every daemon the same file. Without it, only peers on"
          + " this host whose user can read this daemon's local token file can migrate from it.")
  Path clusterTokenFile;

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "With --tls-key: the gRPC port speaks only TLS, with this certificate chain; also presented to"
          + " peers that want client certificates.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "The private key (PKCS#8 PEM) of --tls-cert.")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "PEM",
      description = "Mutual TLS: clients (and peers) must present a certificate signed by a CA in this file.")
  Path tlsClientCa;

  @Option(names = "--tls-peer-ca", paramLabel = "PEM",
      description = "With --tls-cert: the CAs peers' certificates are checked against when migrating from them"
          + " (default: the JDK's trusted CAs).")
  Path tlsPeerCa;

  @Option(names = "--insecure", defaultValue = "false",
      description = "Allow the gRPC port on a non-loopback address without TLS (tokens and data then travel in"
          + " clear).")
  boolean insecure;

  @Option(names = "--etcd-user", paramLabel = "USER", description = "With --meta etcd: the etcd user (etcd auth enabled).")
  String etcdUser;

  @Option(names = "--etcd-password-file", paramLabel = "FILE",
      description = "With --etcd-user: a file whose first line is the user's password.")
  Path etcdPasswordFile;

  @Option(names = "--etcd-tls-ca", paramLabel = "PEM",
      description = "With --meta etcd: the CAs etcd's certificate is checked against (https:// endpoints; default:"
          + " the JDK's trusted CAs).")
  Path etcdTlsCa;

  @Option(names = "--etcd-tls-cert", paramLabel = "PEM",
      description = "With --etcd-tls-key: the client certificate presented to etcd (etcd --client-cert-auth).")
  Path etcdTlsCert;

  @Option(names = "--etcd-tls-key", paramLabel = "PEM", description = "The private key (PKCS#8 PEM) of --etcd-tls-cert.")
  Path etcdTlsKey;

  @Option(names = "--max-frame", paramLabel = "SIZE", defaultValue = "64Mi",
      description = "Largest request a client may send; larger ones close that client's connection.")
  String maxFrame;

  @Option(names = "--io-threads", paramLabel = "N", defaultValue = "2",
      description = "Event-loop threads serving clients.")
  int ioThreads;

  @Option(names = "--list-limit", paramLabel = "N", defaultValue = "10000",
      description = "Objects returned by a listing that does not set its own limit.")
  int listLimit;

  // ---- Request limits (what one request may cost; docs/operations.md, "Request limits") ----

  @Option(names = "--max-request-ids", paramLabel = "N", defaultValue = "100000",
      description = "Ids (or blobs) one request may name: a get, delete, seal or create of several.")
  int maxRequestIds;

  @Option(names = "--max-depth", paramLabel = "N", defaultValue = "64",
      description = "Levels an object tree may have (a blob is one level); at most " + RequestLimits.DEPTH_CEILING + ".")
  int maxDepth;

  @Option(names = "--max-fields", paramLabel = "N", defaultValue = "100000",
      description = "Fields one object may have, and members one object may have.")
  int maxFields;

  @Option(names = "--max-field-size", paramLabel = "SIZE", defaultValue = "16Mi",
      description = "Bytes one field value (string or JSON) may take.")
  String maxFieldSize;

  @Option(names = "--max-name-size", paramLabel = "SIZE", defaultValue = "4Ki",
      description = "Bytes a typename, a field or member name, or an object's name may take.")
  String maxNameSize;

  @Option(names = "--max-meta-size", paramLabel = "SIZE", defaultValue = "32Mi",
      description = "Bytes one object's fields and members may take together.")
  String maxMetaSize;

  @Option(names = "--max-tree-objects", paramLabel = "N", defaultValue = "" + RequestLimits.DEFAULT_TREE_OBJECTS,
      description = "Objects an object's tree may hold, a member counted as often as it appears in the tree.")
  long maxTreeObjects;

  @Option(names = "--meta-memory", paramLabel = "SIZE",
      description = "Heap the metadata of all stored objects may take (default: half the JVM's maximum heap);"
          + " a put beyond it fails with an out-of-memory error.")
  String metaMemory;

  /** The request limits the flags say; a bad value is a usage error. */
  private RequestLimits requestLimits() {
    long field = parseSize("--max-field-size", maxFieldSize);
    long name = parseSize("--max-name-size", maxNameSize);
    long meta = parseSize("--max-meta-size", maxMetaSize);
    long budget = metaMemory == null ? RequestLimits.defaultMetaMemory() : parseSize("--meta-memory", metaMemory);
    if (listLimit < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--list-limit must be at least 1, got " + listLimit);
    }
    if (maxDepth < 2 || maxDepth > RequestLimits.DEPTH_CEILING) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--max-depth must be between 2 and " + RequestLimits.DEPTH_CEILING);
    }
    if (maxRequestIds < 1 || maxFields < 1 || field < 1 || name < 1 || name > Integer.MAX_VALUE || meta < 1 || budget < 1
        || maxTreeObjects < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--max-request-ids, --max-fields, --max-field-size,"
          + " --max-name-size, --max-meta-size, --max-tree-objects and --meta-memory must be positive");
    }
    long heap = Runtime.getRuntime().maxMemory();
    if (budget > heap * 3 / 4) {
      LOG.warn("--meta-memory {} is more than three quarters of the daemon's heap ({}, -Xmx in VINEYARDD_JAVA_OPTS):"
          + " metadata could fill the heap before the budget refuses a put; raise -Xmx with it",
          io.vineyard.MemorySize.format(budget), io.vineyard.MemorySize.format(heap));
    }
    return new RequestLimits(maxRequestIds, maxDepth, maxFields, field, (int) name, meta, budget, maxTreeObjects);
  }

  // ---- end of request limits ----

  // ---- Resource limits and timeouts (issue 19; docs/operations.md lists them all) ----

  @Option(names = "--max-connections", paramLabel = "N", defaultValue = "" + IpcLimits.DEFAULT_MAX_CONNECTIONS,
      description = "Socket connections open at once, registered or not; more are refused (logged once per cause).")
  int maxConnections;

  @Option(names = "--max-connections-per-uid", paramLabel = "N",
      defaultValue = "" + IpcLimits.DEFAULT_MAX_CONNECTIONS_PER_UID,
      description = "Socket connections one user (by peer credentials) may have open at once.")
  int maxConnectionsPerUid;

  @Option(names = "--register-timeout", paramLabel = "SECONDS", defaultValue = "10",
      description = "A connection that has not registered within this time is closed.")
  double registerTimeout;

  @Option(names = "--frame-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "A request frame begun must arrive whole within this time, else its connection is closed.")
  double frameTimeout;

  @Option(names = "--max-buffered", paramLabel = "SIZE", defaultValue = "256Mi",
      description = "Bytes of incomplete request frames all connections together may hold; a connection whose frame"
          + " needs more is not read until others complete (at least --max-frame).")
  String maxBuffered;

  @Option(names = "--stream-stall-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "A gRPC blob stream whose receiver takes nothing for this long is ended, unpinning the blob.")
  double streamStallTimeout;

  @Option(names = "--trim-after", paramLabel = "SIZE", defaultValue = "256Mi",
      description = "Give freed shared-memory pages back to the system (punch holes in the region file) once this much"
          + " has been freed since the last trim; 0: only on `vineyardctl trim`. Not with --reserve-memory.")
  String trimAfter;

  /** The limits above, checked at start. */
  private IpcLimits ipcLimits;

  /** The limits above, checked. */
  private IpcLimits ipcLimits(long frame) {
    long buffered = parseSize("--max-buffered", maxBuffered);
    if (maxConnections < 1 || maxConnectionsPerUid < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this),
          "--max-connections and --max-connections-per-uid must be at least 1");
    }
    if (!(registerTimeout > 0) || !(frameTimeout > 0) || !(streamStallTimeout > 0)) {
      throw new CommandLine.ParameterException(new CommandLine(this),
          "--register-timeout, --frame-timeout and --stream-stall-timeout must be positive");
    }
    if (buffered < frame) {
      throw new CommandLine.ParameterException(new CommandLine(this),
          "--max-buffered (" + maxBuffered + ") must be at least --max-frame (" + maxFrame + ")");
    }
    return new IpcLimits(maxConnections, maxConnectionsPerUid, seconds(registerTimeout), seconds(frameTimeout), buffered,
        IpcLimits.DEFAULT_UNREGISTERED_MAX_FRAME);
  }

  private static Duration seconds(double s) {
    return Duration.ofNanos(Math.max(1_000_000L, (long) (s * 1e9)));
  }

  // ---- end of the resource limits ----

  /** Read by {@link #main} before parsing (see {@link ConfigFile}); declared so that it parses and shows in --help. */
  @Option(names = "--config", paramLabel = "FILE",
      description = "Settings from a file, keys as the flags without '--' (see below); flags given here win.")
  Path config;

  private final CountDownLatch stopped = new CountDownLatch(1);
  private SpillFiles spill;
  private IpcServer server;
  private RpcServer rpc;
  private Cluster cluster;
  private ObjectStore store;
  private DaemonService service;
  private MemoryArena arena;

  /** The user this daemon runs as (admitted on the socket whatever --allow-uids says). */
  private static int ownUid() {
    try {
      return (Integer) java.nio.file.Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (java.io.IOException | RuntimeException e) {
      throw new VineyardException(io.vineyard.ErrorCode.INTERNAL, "cannot tell which user this daemon runs as: " + e, e);
    }
  }

  /** Starts the daemon with the parsed options; returns once it is serving. */
  public void start() {
    Path sock = socket != null ? socket : IpcClient.defaultSocket();
    long capacity = parseSize("--size", size);
    long frame = parseSize("--max-frame", maxFrame);
    if (frame < 1024 || frame > Integer.MAX_VALUE - 8) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--max-frame must be between 1Ki and 2Gi");
    }
    ipcLimits = ipcLimits(frame);
    if (ioThreads < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--io-threads must be at least 1");
    }
    if (instanceId != null && (instanceId < 0 || instanceId > ObjectId.MAX_INSTANCE_ID)) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--instance-id must be between 0 and " + ObjectId.MAX_INSTANCE_ID);
    }
    if (!isolation.equals("none") && !isolation.equals("user")) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--isolation must be none or user, got '" + isolation + "'");
    }
    if (isolation.equals("user") && reserveMemory) {
      // Each user's region would take its pages on top of the reserved shared one.
      throw new CommandLine.ParameterException(new CommandLine(this),
          "--reserve-memory cannot be combined with --isolation user (users' regions are made as they write)");
    }
    try {
      PosixFilePermissions.fromString(socketMode);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--socket-mode must look like rw-rw----, got '" + socketMode + "'");
    }
    if (rpcPort != null && (rpcPort < 0 || rpcPort > 65535)) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--rpc-port must be between 0 and 65535");
    }
    try {
      InetAddress.getByName(rpcHost);
    } catch (UnknownHostException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--rpc-host " + rpcHost + " does not resolve");
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--tls-cert and --tls-key go together");
    }
    if (tlsCert == null && (tlsClientCa != null || tlsPeerCa != null)) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--tls-client-ca and --tls-peer-ca need --tls-cert and --tls-key");
    }
    if (tlsCert == null && !insecure && !isLoopback(rpcHost)) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          "--rpc-host " + rpcHost + " is reachable from other hosts: give --tls-cert and --tls-key, or --insecure to"
              + " send tokens and data in clear");
    }
    if ((etcdTlsCert == null) != (etcdTlsKey == null)) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--etcd-tls-cert and --etcd-tls-key go together");
    }
    if ((etcdUser == null) != (etcdPasswordFile == null)) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--etcd-user and --etcd-password-file go together");
    }
    if (etcdLeaseTtl < 2) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--etcd-lease-ttl must be at least 2 seconds");
    }
    if (etcdTimeout < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--etcd-timeout must be at least 1 second");
    }
    if (!(spillLower > 0 && spillLower < spillUpper && spillUpper <= 1)) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--spill-lower and --spill-upper must satisfy 0 < lower < upper <= 1");
    }
    RequestLimits limits = requestLimits();
    warnUnlessInMemory(shmDir);
    long started = System.nanoTime();
    try {
      startServing(sock, capacity, (int) frame, limits);
    } catch (RuntimeException e) {
      close(); // leave no shared memory, spill directory or socket behind
      throw e;
    }
    LOG.info(
        "vineyardd {} ready: instance {}, {} of shared memory in {}{}, metadata {}, gRPC on {}, started in {} ms",
        Version.VERSION, store.instanceId(), MemorySize.format(capacity), arena.directory(),
        reserveMemory ? " (reserved)" : "", cluster.backend().describe(), cluster.selfInfo().rpcEndpoint(),
        (System.nanoTime() - started) / 1_000_000);
  }

  /**
   * Builds the daemon in dependency order, each part complete when the next is made: the socket
   * path and the spill directory are checked and the shared memory made (what is wrong with the
   * configuration is reported before anything is bound; reserving memory can take seconds, which
   * must not eat into a lease taken later), then the gRPC port is bound (so that the instance record
   * carries its real endpoint), the daemon registers and gets the instance id its store is built
   * with, the service is made over both, and the transports start.
   */
  private void startServing(Path sock, long capacity, int frame, RequestLimits limits) {
    MetadataBackend backend =
        switch (meta) {
          case local -> new LocalMetadata();
          case etcd -> EtcdMetadata.connect(etcdEndpoints, etcdPrefix, etcdLeaseTtl, Duration.ofSeconds(etcdTimeout),
              new EtcdMetadata.Security(etcdUser, etcdPasswordFile, etcdTlsCa, etcdTlsCert, etcdTlsKey));
        };
    try {
      IpcServer.prepareSocketPath(sock); // another daemon on this socket: say so before binding anything
      // The spill directory next: a bad one is a configuration error, reported before binding anything.
      ObjectStore.Tiering tiering = null;
      if (spillDir != null) {
        spill = SpillFiles.create(spillDir);
        tiering = new ObjectStore.Tiering(spill, spillUpper, spillLower);
        LOG.info("spilling to {} above {}% of memory, down to {}%", spill.directory(), Math.round(spillUpper * 100),
            Math.round(spillLower * 100));
      }
      arena = MemoryArena.create(shmDir, capacity, reserveMemory);
      RpcSecurity security = RpcSecurity.create(sock, socketMode, !allowUids.isEmpty() || !allowGids.isEmpty(),
          rpcTokenFiles, clusterTokenFile,
          tlsCert == null ? null : new RpcSecurity.Tls(tlsCert, tlsKey, tlsClientCa, tlsPeerCa));
      rpc = bindRpc(security);
      if (meta == Meta.etcd && isLoopback(rpcHost)) {
        LOG.warn("--rpc-host {} is a loopback address: daemons on other hosts cannot fetch from this one"
            + " (give an address they can reach, or 0.0.0.0)", rpcHost);
      }
      ObjectStore.Tiering tiers = tiering;
      String endpoint = new HostPort(advertisedHost(), rpc.port()).toString();
      cluster = new Cluster(backend, template(sock), endpoint, arena, instanceId == null ? -1 : instanceId,
          id -> new ObjectStore(id, arena, listLimit, tiers, limits), security.peerClients());
    } catch (RuntimeException e) {
      if (cluster == null) {
        backend.close();
      }
      throw e;
    }
    store = cluster.store();
    service = new DaemonService(store, cluster, Version.VERSION, listLimit, frame);
    rpc.serve(service, seconds(streamStallTimeout));
    arena.trimAfter(reserveMemory ? 0 : parseSize("--trim-after", trimAfter));
    server = IpcServer.start(sock, socketMode,
        new SocketAccess(Set.copyOf(allowUids), Set.copyOf(allowGids), ownUid(), isolation.equals("user")),
        ioThreads, frame, ipcLimits, service);
  }

  private long parseSize(String flag, String text) {
    try {
      return MemorySize.parse(text);
    } catch (VineyardException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), flag + ": " + e.reason()
          + " (a number of bytes, optionally with a unit: K, M, G, T are powers of 1000, Ki, Mi, Gi, Ti powers"
          + " of 1024, each optionally followed by B; e.g. 512Mi, 2Gi, 1.5G)");
    }
  }

  /**
   * The gRPC port. A port given (or any port with etcd, where peers are told it through the cluster
   * but firewalls are set up for it) must be had; with local metadata and no --rpc-port, a second
   * daemon on the host takes a free port rather than fail to start.
   */
  private RpcServer bindRpc(RpcSecurity security) {
    if (rpcPort != null || meta == Meta.etcd) {
      return RpcServer.bind(rpcHost, rpcPort != null ? rpcPort : DEFAULT_RPC_PORT, security);
    }
    if (isFree(rpcHost, DEFAULT_RPC_PORT)) {
      return RpcServer.bind(rpcHost, DEFAULT_RPC_PORT, security);
    }
    RpcServer any = RpcServer.bind(rpcHost, 0, security);
    LOG.warn("gRPC port {} is taken (another vineyardd on this host?): serving gRPC on {}:{} instead;"
        + " give --rpc-port to choose one", DEFAULT_RPC_PORT, rpcHost, any.port());
    return any;
  }

  /** Whether {@code host:port} can be bound now (Netty's epoll bind error does not say "in use" by type). */
  private static boolean isFree(String host, int port) {
    try (ServerSocket probe = new ServerSocket()) {
      probe.bind(new InetSocketAddress(host, port));
      return true;
    } catch (BindException e) {
      return false;
    } catch (IOException e) {
      return true; // something else is wrong with the address: binding it reports that
    }
  }

  /** Filesystems whose files live in memory: anything else writes the "shared memory" back to a disk. */
  private static final Set<String> MEMORY_FILESYSTEMS = Set.of("tmpfs", "hugetlbfs", "ramfs");

  private static void warnUnlessInMemory(Path dir) {
    Path existing = dir.toAbsolutePath();
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return;
    }
    try {
      String type = Files.getFileStore(existing).type();
      if (!MEMORY_FILESYSTEMS.contains(type)) {
        LOG.warn("--shm-dir {} is on a filesystem of type {}, not tmpfs: the kernel writes shared memory there back to the"
            + " disk, which slows every write and takes disk space; use a tmpfs directory such as /dev/shm/vineyard",
            dir, type);
      }
    } catch (IOException e) {
      // Not readable: the shared memory itself fails to be made there, with the reason.
    }
  }

  private static InstanceInfo template(Path sock) {
    return new InstanceInfo(
        0, localHostName(), sock.toAbsolutePath().toString(), "", 0, 0,
        java.time.Instant.ofEpochMilli(System.currentTimeMillis()), Version.VERSION);
  }

  private String advertisedHost() {
    try {
      return InetAddress.getByName(rpcHost).isAnyLocalAddress() ? localHostName() : rpcHost;
    } catch (UnknownHostException e) {
      return rpcHost;
    }
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private static String localHostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "localhost";
    }
  }

  public Cluster cluster() {
    return cluster;
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
    if (rpc != null) {
      rpc.close();
      rpc = null;
    }
    if (service != null) {
      service.close(); // waits for migrations and spills: they write into shared memory
      service = null;
    }
    if (cluster != null) {
      cluster.close(); // withdraws this instance from the cluster at once
      cluster = null;
    }
    if (arena != null) {
      arena.close();
      arena = null;
    }
    if (spill != null) {
      spill.close();
      spill = null;
    }
    stopped.countDown();
  }

  /** Exit status of a usage error (picocli's own, a bad flag value, a bad --config file). */
  static final int USAGE = 2;

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new Vineyardd());
    try {
      Path file = ConfigFile.pathIn(args);
      if (file != null) {
        cl.setDefaultValueProvider(ConfigFile.load(file, cl.getCommandSpec()));
      }
    } catch (VineyardException e) {
      cl.getErr().println("vineyardd: " + e.reason());
      cl.getErr().flush();
      System.exit(USAGE);
    }
    cl.setParameterExceptionHandler(
        (ex, params) -> {
          // What is wrong and where to look, not the whole usage.
          cl.getErr().println("vineyardd: " + ex.getMessage());
          cl.getErr().println("Try 'vineyardd --help' for the flags.");
          return USAGE;
        });
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (ex instanceof VineyardException ve) {
            cmd.getErr().println("vineyardd: " + ve.getMessage());
            return ve.code() == ErrorCode.INVALID_ARGUMENT ? USAGE : 1;
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
