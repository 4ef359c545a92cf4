package io.vineyard.server.cluster;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.vineyard.internal.GrpcErrors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLException;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Txn;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import io.vineyard.server.store.RequestLimits;
import io.vineyard.server.records.RecordCodec;
import io.vineyard.server.records.StoredRecord;
import io.vineyard.server.records.UnreadableRecordException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster metadata in etcd, under a prefix of its own:
 *
 * <ul>
 *   <li>{@code <prefix>/instances/<id>}: each live daemon's {@link InstanceInfo};
 *   <li>{@code <prefix>/objects/<instance>/<object id>}: each persisted object's expanded metadata
 *       tree, under the instance that minted it;
 *   <li>{@code <prefix>/names/<name>}: the id a cluster-wide name is bound to.
 * </ul>
 *
 * <p>Values are records of {@link RecordCodec} (a header with the format version, then protobuf of
 * {@code records.proto}), not IPC messages. A value this daemon cannot read (a newer format
 * version, a corrupt body) is skipped by listings with a warning naming its key, and a lookup of it
 * fails with {@link ErrorCode#IO_ERROR} saying why; other keys are not affected.
 *
 * <p>Everything a daemon writes is attached to its lease, which a heartbeat renews every third of
 * the TTL; a daemon that dies drops out, with what it published, when the lease expires. Instance ids
 * are claimed with a transaction that succeeds only on a free id.
 *
 * <p>The heartbeat is also how the daemon notices etcd trouble: while it fails, every call fails at
 * once with {@link ErrorCode#UNAVAILABLE} (local work goes on). When etcd answers again, the daemon
 * checks that its registration survived; if it did not (the lease expired, or etcd came back empty),
 * it registers again under the same id and publishes again everything it owns. It never relies on a
 * watch to notice this.
 */
public final class EtcdMetadata implements MetadataBackend {

  private static final Logger LOG = LoggerFactory.getLogger(EtcdMetadata.class);
  /** etcd's default limit on operations in one transaction is 128. */
  private static final int TXN_OPS = 100;
  /** Bytes of values per transaction: well under etcd's default request limit of 1.5 MiB. */
  private static final int TXN_BYTES = 512 << 10;
  /** The largest single value this daemon writes (one object's metadata tree). */
  static final int MAX_VALUE_BYTES = 1 << 20;
  private static final int PAGE = 256;
  /** Unreadable values already warned about (key and revision), so a listing loop does not flood the log. */
  private static final int WARNED_MAX = 4096;

  private final Client client;
  private final String endpoints;
  private final String prefix;
  private final long ttlSeconds;
  private final Duration timeout;
  private final ScheduledExecutorService heartbeat =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("etcd-heartbeat").daemon().factory());
  /** Serializes writes with re-registration, so a republish never interleaves with a publish. */
  private final ReentrantLock writes = new ReentrantLock();

  private volatile long instanceId = -1;
  /** The lease everything is written under; replaced only once a re-registration is complete. */
  private volatile long leaseId;
  private volatile Registrant daemon;
  /** When the lease was last renewed ({@link System#nanoTime()}), to renew during long republishing. */
  private volatile long renewedAt;
  private volatile boolean healthy = true;
  private volatile String lastFailure = "";
  private volatile Instant unhealthySince;
  private volatile boolean closed;
  private final Set<String> warned = ConcurrentHashMap.newKeySet();

  private EtcdMetadata(Client client, String endpoints, String prefix, long ttlSeconds, Duration timeout) {
    this.client = client;
    this.endpoints = endpoints;
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    this.timeout = timeout;
  }

  /**
   * Connects to etcd (lazily: {@link #register} is the first call that must reach it).
   *
   * @param endpoints comma-separated URLs, e.g. {@code http://127.0.0.1:2379}
   * @param prefix key prefix of this cluster, e.g. {@code /vineyard}
   * @param ttlSeconds lease TTL: how long after its last heartbeat a dead daemon drops out
   * @param timeout how long one etcd call may take
   */
  public static EtcdMetadata connect(String endpoints, String prefix, long ttlSeconds, Duration timeout) {
    return connect(endpoints, prefix, ttlSeconds, timeout, Security.NONE);
  }

  /**
   * How to be let into etcd: a user and the file holding its password (etcd auth enabled), and TLS
   * (the CAs to trust, a client certificate and key in PEM). Any field may be null; TLS is used when
   * an endpoint is {@code https://} or a TLS file is given.
   */
  public record Security(String user, Path passwordFile, Path ca, Path certificate, Path key) {
    public static final Security NONE = new Security(null, null, null, null, null);

    boolean tls() {
      return ca != null || certificate != null;
    }
  }

  /**
   * As {@link #connect(String, String, long, Duration)}, with etcd's auth and TLS.
   *
   * @throws VineyardException {@link ErrorCode#INVALID_ARGUMENT} when the password or a TLS file
   *     cannot be read or used
   */
  public static EtcdMetadata connect(String endpoints, String prefix, long ttlSeconds, Duration timeout, Security security) {
    List<String> urls = new ArrayList<>();
    for (String e : endpoints.split(",")) {
      String u = e.strip();
      if (u.isEmpty()) {
        continue;
      }
      urls.add(u.contains("://") ? u : (security.tls() ? "https://" : "http://") + u);
    }
    if (urls.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "no etcd endpoints given");
    }
    String p = prefix.strip();
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    if (p.isEmpty()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "the etcd prefix must not be empty");
    }
    Client c;
    try {
      // Not waitForReady: while etcd is down a call fails at once instead of queueing until it is back.
      ClientBuilder b = Client.builder().endpoints(urls.toArray(String[]::new)).connectTimeout(timeout).waitForReady(false);
      if (security.tls() || urls.stream().anyMatch(u -> u.startsWith("https://"))) {
        b.sslContext(etcdTls(security));
      }
      if (security.user() != null) {
        b.user(ByteSequence.from(security.user(), StandardCharsets.UTF_8)).password(password(security.passwordFile()));
      }
      c = b.build();
    } catch (VineyardException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "bad etcd endpoints '" + endpoints + "': " + e.getMessage(), e);
    }
    return new EtcdMetadata(c, String.join(",", urls), p, ttlSeconds, timeout);
  }

  private static SslContext etcdTls(Security s) {
    try {
      SslContextBuilder b = GrpcSslContexts.forClient();
      if (s.ca() != null) {
        b.trustManager(s.ca().toFile());
      }
      if (s.certificate() != null) {
        b.keyManager(s.certificate().toFile(), s.key().toFile());
      }
      return b.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot use the etcd TLS files given: " + GrpcErrors.rootCause(e), e);
    }
  }

  private static ByteSequence password(Path file) {
    try {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      int nl = text.indexOf('\n');
      String pw = (nl < 0 ? text : text.substring(0, nl)).strip();
      if (pw.isEmpty()) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "the etcd password file " + file + " is empty");
      }
      return ByteSequence.from(pw, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "cannot read the etcd password file " + file + ": " + e, e);
    }
  }

  // ---------------------------------------------------------------- keys

  private ByteSequence key(String k) {
    return ByteSequence.from(prefix + k, StandardCharsets.UTF_8);
  }

  private ByteSequence instanceKey(long id) {
    return key(String.format("/instances/%05d", id));
  }

  private ByteSequence objectKey(ObjectId id) {
    return key(String.format("/objects/%05d/%s", id.instanceId(), id));
  }

  private ByteSequence nameKey(String name) {
    return key("/names/" + name);
  }

  private static ByteSequence bytes(byte[] b) {
    return ByteSequence.from(b);
  }

  /** The first key after every key that starts with {@code p}. */
  private static ByteSequence rangeEnd(ByteSequence p) {
    byte[] b = p.getBytes();
    byte[] end = java.util.Arrays.copyOf(b, b.length);
    end[end.length - 1]++;
    return ByteSequence.from(end);
  }

  // ---------------------------------------------------------------- calls

  private <T> T await(String what, CompletableFuture<T> f) {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw failed(what, "no answer in " + timeout.toSeconds() + " s");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      if (leaseMissing(cause)) {
        throw new LeaseLost(cause);
      }
      String why = cause.getMessage() != null ? cause.getMessage() : cause.toString();
      if (unreachable(cause)) {
        throw failed(what, why);
      }
      io.grpc.Status.Code status = io.grpc.Status.fromThrowable(cause).getCode();
      if (status == io.grpc.Status.Code.UNAUTHENTICATED || status == io.grpc.Status.Code.PERMISSION_DENIED
          || why.contains("authentication failed") || why.contains("permission denied")) {
        throw new VineyardException(
            status == io.grpc.Status.Code.PERMISSION_DENIED ? ErrorCode.PERMISSION_DENIED : ErrorCode.UNAUTHENTICATED,
            "etcd refused " + what + ": " + why + " (etcd auth: check --etcd-user and --etcd-password-file, and that the"
                + " user's role may read and write the keys under " + prefix + ")",
            cause);
      }
      // etcd answered and refused this one request (too large, out of space, ...): etcd is fine.
      throw new VineyardException(ErrorCode.INTERNAL, "etcd refused " + what + ": " + why, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new VineyardException(ErrorCode.UNAVAILABLE, what + " interrupted", e);
    }
  }

  private static boolean leaseMissing(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c.getMessage() != null && c.getMessage().contains("requested lease not found")) {
        return true;
      }
    }
    return false;
  }

  /** Whether a failure means etcd could not be reached (rather than that it refused the request). */
  private static boolean unreachable(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof StatusRuntimeException s) {
        Status.Code code = s.getStatus().getCode();
        return code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED || code == Status.Code.CANCELLED;
      }
      if (c instanceof EtcdException e) {
        var code = e.getErrorCode();
        return code == io.etcd.jetcd.common.exception.ErrorCode.UNAVAILABLE
            || code == io.etcd.jetcd.common.exception.ErrorCode.DEADLINE_EXCEEDED
            || code == io.etcd.jetcd.common.exception.ErrorCode.CANCELLED;
      }
      if (c instanceof java.io.IOException) {
        return true;
      }
    }
    return true; // nothing says etcd answered: treat it as unreachable
  }

  /** This daemon's lease is gone (expired, or etcd lost its data): registration must be renewed. */
  private static final class LeaseLost extends RuntimeException {
    LeaseLost(Throwable cause) {
      super("lease not found", cause);
    }
  }

  private VineyardException failed(String what, String why) {
    markUnhealthy(what + ": " + why);
    return unavailableError();
  }

  private void markUnhealthy(String why) {
    lastFailure = why;
    if (healthy) {
      healthy = false;
      unhealthySince = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
      LOG.warn("etcd at {} is unreachable ({}); local objects keep working, cluster requests fail until it is back",
          endpoints, why);
    }
  }

  private VineyardException unavailableError() {
    return new VineyardException(
        ErrorCode.UNAVAILABLE,
        "etcd at " + endpoints + " is unreachable" + (unhealthySince != null ? " since " + unhealthySince : "")
            + " (" + lastFailure + "); cluster operations fail until it is back, local objects keep working");
  }

  private void checkAvailable() {
    if (closed) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "the metadata backend is closed");
    }
    if (!healthy) {
      throw unavailableError();
    }
  }

  /** Runs a write with the current lease; a lost lease triggers re-registration and fails this call. */
  private <T> T write(String what, Supplier<T> body) {
    checkAvailable();
    writes.lock();
    try {
      return body.get();
    } catch (LeaseLost e) {
      if (!closed) {
        heartbeat.execute(this::tick); // register again now rather than at the next beat
      }
      throw new VineyardException(
          ErrorCode.UNAVAILABLE, what + " failed: this daemon's etcd registration was lost; it is registering again, retry shortly");
    } finally {
      writes.unlock();
    }
  }

  // ---------------------------------------------------------------- registration

  @Override
  public long register(long requestedId, Registrant daemon) {
    this.daemon = daemon;
    writes.lock();
    try {
      long lease = await("granting a lease", client.getLeaseClient().grant(ttlSeconds)).getID();
      long id = requestedId >= 0 ? claim(requestedId, lease, true) : claimFree(lease);
      instanceId = id;
      leaseId = lease;
      renewedAt = System.nanoTime();
    } catch (LeaseLost e) {
      throw new VineyardException(ErrorCode.UNAVAILABLE, "etcd dropped the new lease at once", e);
    } catch (VineyardException e) {
      if (e.code() == ErrorCode.UNAVAILABLE) {
        throw new VineyardException(
            ErrorCode.UNAVAILABLE, "cannot register with etcd at " + endpoints + ": " + lastFailure, e);
      }
      throw e;
    } finally {
      writes.unlock();
    }
    healthy = true;
    long period = Math.max(500, ttlSeconds * 1000 / 3);
    heartbeat.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
    LOG.info("registered with etcd at {} under {} as instance {} (lease TTL {} s)", endpoints, prefix, instanceId, ttlSeconds);
    return instanceId;
  }

  /** Claims the lowest id no live instance holds. */
  private long claimFree(long lease) {
    for (int attempt = 0; attempt < 10; attempt++) {
      Set<Long> taken = new HashSet<>();
      GetResponse r =
          await("listing instances", client.getKVClient().get(key("/instances/"), GetOption.builder().isPrefix(true).withKeysOnly(true).build()));
      for (KeyValue kv : r.getKvs()) {
        String k = kv.getKey().toString(StandardCharsets.UTF_8);
        try {
          taken.add(Long.parseLong(k.substring(k.lastIndexOf('/') + 1)));
        } catch (NumberFormatException e) {
          LOG.warn("ignoring unexpected key {}", k);
        }
      }
      for (long id = 0; id <= ObjectId.MAX_INSTANCE_ID; id++) {
        if (!taken.contains(id)) {
          if (claim(id, lease, false) >= 0) {
            return id;
          }
          break; // someone took it meanwhile: look again
        }
      }
    }
    throw new VineyardException(ErrorCode.UNAVAILABLE, "could not claim a free instance id in etcd at " + endpoints);
  }

  /** Claims {@code id} if free; returns it, or -1 (or throws when {@code required}) if taken. */
  private long claim(long id, long lease, boolean required) {
    ByteSequence k = instanceKey(id);
    byte[] info = RecordCodec.encodeInstance(withId(daemon.self(), id));
    TxnResponse r =
        await("claiming instance id " + id, client.getKVClient().txn()
            .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.version(0)))
            .Then(Op.put(k, bytes(info), PutOption.builder().withLeaseId(lease).build()))
            .commit());
    if (r.isSucceeded()) {
      return id;
    }
    if (required) {
      throw new VineyardException(
          ErrorCode.ALREADY_EXISTS, "instance id " + id + " is held by a live daemon (see vineyardctl instances)");
    }
    return -1;
  }

  private static InstanceInfo withId(InstanceInfo i, long id) {
    return new InstanceInfo(
        id, i.hostname(), i.ipcSocket(), i.rpcEndpoint(), i.usedBytes(), i.capacityBytes(), i.startedAt(), i.daemonVersion());
  }

  /**
   * One heartbeat: renew the lease, check and refresh the instance record, register again if the
   * registration was lost. Renewing takes no lock, so a long publish cannot starve it.
   */
  private void tick() {
    if (closed) {
      return;
    }
    try {
      long lease = leaseId;
      await("renewing the lease", client.getLeaseClient().keepAliveOnce(lease));
      renewedAt = System.nanoTime();
      ByteSequence k = instanceKey(instanceId);
      GetResponse current = await("reading the instance record", client.getKVClient().get(k));
      if (current.getKvs().isEmpty() || current.getKvs().getFirst().getLease() != lease) {
        reregisterQuietly("instance record missing");
        return;
      }
      byte[] record = RecordCodec.encodeInstance(withId(daemon.self(), instanceId));
      if (!java.util.Arrays.equals(record, current.getKvs().getFirst().getValue().getBytes())) {
        await("refreshing the instance record",
            client.getKVClient().put(k, bytes(record), PutOption.builder().withLeaseId(lease).build()));
      }
      if (!healthy) {
        healthy = true;
        LOG.info("etcd at {} is reachable again; registration of instance {} intact", endpoints, instanceId);
      }
    } catch (LeaseLost e) {
      reregisterQuietly("lease expired or etcd lost its data");
    } catch (VineyardException e) {
      // markUnhealthy has logged an unreachable etcd; a refused request is logged here
      if (healthy) {
        LOG.warn("heartbeat: {}", e.getMessage());
      }
    } catch (RuntimeException e) {
      markUnhealthy(e.toString());
    }
  }

  private void reregisterQuietly(String why) {
    writes.lock();
    try {
      reregister(why);
    } catch (LeaseLost e) {
      markUnhealthy("the new lease was lost while publishing again");
    } catch (VineyardException e) {
      markUnhealthy("registering again failed: " + e.reason());
    } finally {
      writes.unlock();
    }
  }

  /**
   * Takes a new lease, claims this instance's id again and publishes everything again. The new
   * lease becomes the current one only when all of it is written: if any step fails, the next
   * heartbeat starts over (the old lease is gone, so it lands here again).
   */
  private void reregister(String why) {
    LOG.warn("etcd registration of instance {} lost ({}); registering again", instanceId, why);
    long lease = await("granting a lease", client.getLeaseClient().grant(ttlSeconds)).getID();
    renewedAt = System.nanoTime();
    boolean done = false;
    try {
      Snapshot s = daemon.snapshot();
      ByteSequence k = instanceKey(instanceId);
      byte[] info = RecordCodec.encodeInstance(withId(s.self(), instanceId));
      TxnResponse r =
          await("claiming instance id " + instanceId, client.getKVClient().txn()
              .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.version(0)))
              .Then(Op.put(k, bytes(info), PutOption.builder().withLeaseId(lease).build()))
              .Else(Op.get(k, GetOption.DEFAULT))
              .commit());
      if (!r.isSucceeded()) {
        InstanceInfo holder = decodeInstance(r.getGetResponses().getFirst().getKvs());
        if (holder == null || !sameDaemon(holder, s.self())) {
          markUnhealthy("instance id " + instanceId + " was taken by " + (holder == null ? "another daemon"
              : holder.hostname() + " " + holder.ipcSocket()) + " while this daemon was away");
          return;
        }
        await("claiming instance id " + instanceId,
            client.getKVClient().put(k, bytes(info), PutOption.builder().withLeaseId(lease).build()));
      }
      putObjects(encode(s.objects()), lease);
      putNames(s.names(), lease);
      leaseId = lease;
      done = true;
      healthy = true;
      LOG.info("registered again with etcd at {} as instance {}: published {} objects and {} names again",
          endpoints, instanceId, s.objects().size(), s.names().size());
    } finally {
      if (!done) {
        client.getLeaseClient().revoke(lease); // best effort: what it holds would expire anyway
      }
    }
  }

  /** Renews {@code lease} if a third of its TTL has passed: long republishing must not let it expire. */
  private void renewIfDue(long lease) {
    if (System.nanoTime() - renewedAt > ttlSeconds * 1_000_000_000L / 3) {
      await("renewing the lease", client.getLeaseClient().keepAliveOnce(lease));
      renewedAt = System.nanoTime();
    }
  }

  /** The instance record in {@code kvs}, or null when there is none or it cannot be read. */
  private InstanceInfo decodeInstance(List<KeyValue> kvs) {
    if (kvs.isEmpty()) {
      return null;
    }
    try {
      return RecordCodec.decodeInstance(kvs.getFirst().getValue().getBytes());
    } catch (UnreadableRecordException e) {
      warnUnreadable(kvs.getFirst(), e);
      return null;
    }
  }

  private static boolean sameDaemon(InstanceInfo a, InstanceInfo b) {
    return a.hostname().equals(b.hostname())
        && a.ipcSocket().equals(b.ipcSocket())
        && java.util.Objects.equals(a.startedAt(), b.startedAt());
  }

  /** Logs, once per key and revision, that a value cannot be read and is skipped. */
  private void warnUnreadable(KeyValue kv, UnreadableRecordException e) {
    String k = kv.getKey().toString(StandardCharsets.UTF_8);
    if (warned.size() >= WARNED_MAX) {
      warned.clear();
    }
    if (warned.add(k + "@" + kv.getModRevision())) {
      LOG.warn("skipping etcd key {}: {}", k, e.reason());
    }
  }

  private static String keyText(KeyValue kv) {
    return kv.getKey().toString(StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- objects and names

  /** An object's tree encoded as its etcd value. */
  private record EncodedTree(ObjectId id, byte[] value) {}

  /** Encodes trees, refusing (before anything is written) one that etcd would not hold. */
  private static List<EncodedTree> encode(List<ObjectMeta> objects) {
    List<EncodedTree> out = new ArrayList<>(objects.size());
    for (ObjectMeta m : objects) {
      byte[] b = RecordCodec.encodeTree(m);
      if (b.length > MAX_VALUE_BYTES) {
        throw new VineyardException(
            ErrorCode.INVALID_ARGUMENT,
            "the metadata tree of " + m.id() + " takes " + b.length + " bytes; etcd holds at most "
                + MAX_VALUE_BYTES + " per object: " + (m.isGlobal()
                    ? "a global object's record holds its members' whole trees: split it into several global objects"
                        + " of fewer members"
                    : "persist its members separately and group them in a global object"));
      }
      out.add(new EncodedTree(m.id(), b));
    }
    return out;
  }

  private void putObjects(List<EncodedTree> objects, long lease) {
    List<SizedOp> ops = new ArrayList<>();
    for (EncodedTree t : objects) {
      ops.add(new SizedOp(Op.put(objectKey(t.id()), bytes(t.value()), PutOption.builder().withLeaseId(lease).build()),
          t.value().length + 64L));
    }
    commitInBatches("publishing objects", ops, lease);
  }

  private void putNames(Map<String, ObjectId> names, long lease) {
    List<SizedOp> ops = new ArrayList<>();
    for (Map.Entry<String, ObjectId> n : names.entrySet()) {
      ByteSequence k = nameKey(n.getKey());
      ByteSequence v = nameValue(n.getKey(), n.getValue());
      ops.add(new SizedOp(Op.put(k, v, PutOption.builder().withLeaseId(lease).build()), k.size() + v.size() + 32L));
    }
    commitInBatches("publishing names", ops, lease);
  }

  /** The value of a name's key; deterministic, so a transaction can compare it. */
  private static ByteSequence nameValue(String name, ObjectId id) {
    return ByteSequence.from(RecordCodec.encodeName(name, id));
  }

  /** An operation and about how many bytes it adds to a request. */
  private record SizedOp(Op op, long bytes) {}

  /** Commits operations in transactions bounded in count and bytes, renewing the lease between them. */
  private void commitInBatches(String what, List<SizedOp> ops, long lease) {
    List<Op> batch = new ArrayList<>();
    long bytes = 0;
    for (SizedOp o : ops) {
      if (!batch.isEmpty() && (batch.size() == TXN_OPS || bytes + o.bytes() > TXN_BYTES)) {
        await(what, client.getKVClient().txn().Then(batch.toArray(Op[]::new)).commit());
        renewIfDue(lease);
        batch.clear();
        bytes = 0;
      }
      batch.add(o.op());
      bytes += o.bytes();
    }
    if (!batch.isEmpty()) {
      await(what, client.getKVClient().txn().Then(batch.toArray(Op[]::new)).commit());
    }
  }

  @Override
  public List<InstanceInfo> instances() {
    checkAvailable();
    GetResponse r = await("listing instances", client.getKVClient().get(key("/instances/"), GetOption.builder().isPrefix(true).build()));
    List<InstanceInfo> out = new ArrayList<>();
    for (KeyValue kv : r.getKvs()) {
      try {
        out.add(RecordCodec.decodeInstance(kv.getValue().getBytes()));
      } catch (UnreadableRecordException e) {
        warnUnreadable(kv, e);
      }
    }
    return out;
  }

  @Override
  public void publish(List<ObjectMeta> objects) {
    if (objects.isEmpty()) {
      return;
    }
    List<EncodedTree> encoded = encode(objects);
    write("publishing", () -> {
      putObjects(encoded, leaseId);
      return null;
    });
  }

  @Override
  public void unpublish(List<ObjectId> ids) {
    if (ids.isEmpty()) {
      return;
    }
    write("withdrawing", () -> {
      for (int i = 0; i < ids.size(); i += TXN_OPS) {
        List<Op> ops = new ArrayList<>();
        for (ObjectId id : ids.subList(i, Math.min(ids.size(), i + TXN_OPS))) {
          ops.add(Op.delete(objectKey(id), DeleteOption.DEFAULT));
        }
        await("withdrawing objects", client.getKVClient().txn().Then(ops.toArray(Op[]::new)).commit());
      }
      return null;
    });
  }

  @Override
  public Optional<ObjectMeta> lookup(ObjectId id) {
    checkAvailable();
    GetResponse r = await("looking up " + id, client.getKVClient().get(objectKey(id)));
    if (r.getKvs().isEmpty()) {
      return Optional.empty();
    }
    KeyValue kv = r.getKvs().getFirst();
    try {
      return Optional.of(RecordCodec.decodeTree(kv.getValue().getBytes()));
    } catch (UnreadableRecordException e) {
      throw new VineyardException(
          e.code(), "object " + id + " is persisted, but this daemon cannot read its metadata (etcd key " + keyText(kv)
              + "): " + e.reason(), e);
    }
  }

  @Override
  public Page list(Predicate<String> typename, int limit) {
    checkAvailable();
    List<ObjectMeta> out = new ArrayList<>();
    boolean truncated = false;
    for (KeyValue kv : scan("/objects/")) {
      ObjectMeta m;
      try {
        m = RecordCodec.decodeTree(kv.getValue().getBytes());
      } catch (UnreadableRecordException e) {
        warnUnreadable(kv, e);
        continue;
      }
      if (typename.test(m.typename())) {
        if (out.size() == limit) {
          truncated = true;
          break;
        }
        out.add(m);
      }
    }
    Set<ObjectId> listed = new HashSet<>();
    out.forEach(m -> listed.add(m.id()));
    Map<ObjectId, List<String>> names = new HashMap<>();
    int cut = (prefix + "/names/").length();
    for (KeyValue kv : scan("/names/")) {
      StoredRecord.Name n;
      try {
        n = RecordCodec.decodeName(kv.getValue().getBytes());
      } catch (UnreadableRecordException e) {
        warnUnreadable(kv, e);
        continue;
      }
      if (listed.contains(n.id())) {
        names.computeIfAbsent(n.id(), k -> new ArrayList<>()).add(keyText(kv).substring(cut));
      }
    }
    return new Page(out, names, truncated);
  }

  /** Every key under {@code <prefix><sub>}, in key order, read a page at a time. */
  private Iterable<KeyValue> scan(String sub) {
    ByteSequence first = key(sub);
    ByteSequence end = rangeEnd(first);
    return () -> new java.util.Iterator<>() {
      private ByteSequence start = first;
      private java.util.Iterator<KeyValue> page = java.util.Collections.emptyIterator();
      private boolean more = true;

      @Override
      public boolean hasNext() {
        while (!page.hasNext() && more) {
          GetResponse r =
              await("listing " + sub, client.getKVClient().get(start, GetOption.builder().withRange(end).withLimit(PAGE).build()));
          page = r.getKvs().iterator();
          more = r.isMore() && !r.getKvs().isEmpty();
          if (more) {
            byte[] last = r.getKvs().getLast().getKey().getBytes();
            start = ByteSequence.from(java.util.Arrays.copyOf(last, last.length + 1)); // the smallest key after it
          }
        }
        return page.hasNext();
      }

      @Override
      public KeyValue next() {
        if (!hasNext()) {
          throw new java.util.NoSuchElementException();
        }
        return page.next();
      }
    };
  }

  @Override
  public void putName(String name, ObjectId id) {
    write("binding a name", () -> {
      putNames(Map.of(name, id), leaseId);
      return null;
    });
  }

  @Override
  public Optional<ObjectId> getName(String name) {
    checkAvailable();
    GetResponse r = await("resolving name '" + RequestLimits.echo(name) + "'", client.getKVClient().get(nameKey(name)));
    if (r.getKvs().isEmpty()) {
      return Optional.empty();
    }
    KeyValue kv = r.getKvs().getFirst();
    try {
      return Optional.of(RecordCodec.decodeName(kv.getValue().getBytes()).id());
    } catch (UnreadableRecordException e) {
      throw new VineyardException(
          e.code(), "name '" + RequestLimits.echo(name) + "' is bound, but this daemon cannot read the binding (etcd key " + keyText(kv)
              + "): " + e.reason(), e);
    }
  }

  @Override
  public boolean dropName(String name) {
    return write("dropping a name", () -> await("dropping name '" + RequestLimits.echo(name) + "'", client.getKVClient().delete(nameKey(name))).getDeleted() > 0);
  }

  @Override
  public boolean dropName(String name, ObjectId id) {
    ByteSequence k = nameKey(name);
    return write("dropping a name", () -> await("dropping name '" + RequestLimits.echo(name) + "'", client.getKVClient().txn()
        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.value(nameValue(name, id))))
        .Then(Op.delete(k, DeleteOption.DEFAULT))
        .commit()).isSucceeded());
  }

  @Override
  public boolean available() {
    return healthy && !closed;
  }

  @Override
  public String describe() {
    return "etcd " + endpoints + " " + prefix;
  }

  /** Stops the heartbeat and revokes the lease, so this instance drops out at once. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    heartbeat.shutdownNow();
    try {
      heartbeat.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS); // no re-registration races the revoke
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long lease = leaseId;
    if (lease != 0 && healthy) {
      try {
        client.getLeaseClient().revoke(lease).get(Math.min(2000, timeout.toMillis()), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        LOG.debug("could not revoke lease on close: {}", e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    client.close();
  }
}
