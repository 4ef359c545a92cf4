package io.vineyard.server.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.client.IpcClient;
import io.vineyard.client.RpcClient;
import io.vineyard.internal.RpcAuth;
import io.vineyard.proto.ipc.GetMetaRequest;
import io.vineyard.proto.ipc.GetNameRequest;
import io.vineyard.proto.ipc.InstancesRequest;
import io.vineyard.proto.ipc.ListRequest;
import io.vineyard.proto.ipc.LocateRequest;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.proto.rpc.FetchBlobRequest;
import io.vineyard.proto.rpc.VineyardGrpc;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed and mutated calls against a real daemon's gRPC port, below the generated stubs: request
 * bytes mutated or random, unknown methods, missing and wrong tokens, fetch streams cancelled
 * part-way, names of thousands of characters. Every call ends with a status in time (no hang, no
 * transport failure from an oversized status), the daemon logs no bug, every pin a stream took is
 * dropped, and a bystander's data and the port serve as before. Seeded, as {@code IpcFuzzIT}.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RpcFuzzIT {

  static final String TOKEN = "fuzz-token-0123456789abcdef";
  static final int CALLS = 3000;

  @TempDir static Path work;
  static DaemonProcess daemon;
  static IpcClient bystander;
  static ObjectId blob;
  static byte[] blobData;
  static ObjectId table;
  static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    Path tokens = work.resolve("tokens.txt");
    Files.writeString(tokens, TOKEN + "\n");
    daemon = DaemonProcess.start(Files.createDirectory(work.resolve("d")), "128Mi", "--rpc-token-file", tokens.toString());
    bystander = daemon.connect();
    blobData = new byte[3 << 20];
    new Random(5).nextBytes(blobData);
    blob = bystander.putBlob(blobData);
    table = bystander.putMeta(ObjectMeta.builder("bystander::Table").field("rows", 3L).member("col", blob).build());
    bystander.putName("bystander", table);
    String[] hp = daemon.info().rpcEndpoint().split(":");
    channel = NettyChannelBuilder.forAddress(hp[0], Integer.parseInt(hp[1])).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (bystander != null) {
      bystander.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  /** Passes request and answer bytes as they are, so that the fuzzer can send anything. */
  static final class Bytes implements MethodDescriptor.Marshaller<byte[]> {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    }
  }

  static MethodDescriptor<byte[], byte[]> raw(String fullName, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder(new Bytes(), new Bytes()).setFullMethodName(fullName).setType(type).build();
  }

  record Target(MethodDescriptor<byte[], byte[]> method, List<byte[]> corpus) {}

  static List<Target> targets() {
    String svc = VineyardGrpc.SERVICE_NAME;
    MethodDescriptor.MethodType unary = MethodDescriptor.MethodType.UNARY;
    String longName = "\u00e9\u4e2d\n".repeat(4000);
    return List.of(
        new Target(raw(svc + "/GetMeta", unary), List.of(
            GetMetaRequest.newBuilder().setId(table.value()).build().toByteArray(),
            GetMetaRequest.newBuilder().setId(12345).build().toByteArray())),
        new Target(raw(svc + "/GetName", unary), List.of(
            GetNameRequest.newBuilder().setName("bystander").build().toByteArray(),
            GetNameRequest.newBuilder().setName("n".repeat(9000)).build().toByteArray(),
            GetNameRequest.newBuilder().setName(longName).build().toByteArray())),
        new Target(raw(svc + "/List", unary), List.of(
            ListRequest.newBuilder().setTypenamePattern("*").setLimit(5).build().toByteArray(),
            ListRequest.newBuilder().setTypenamePattern("*".repeat(40) + "x").build().toByteArray(),
            ListRequest.newBuilder().setTypenamePattern(longName).build().toByteArray())),
        new Target(raw(svc + "/Instances", unary), List.of(InstancesRequest.getDefaultInstance().toByteArray())),
        new Target(raw(svc + "/Locate", unary), List.of(LocateRequest.newBuilder().setId(table.value()).build().toByteArray())),
        new Target(raw(svc + "/Stats", unary), List.of(StatsRequest.getDefaultInstance().toByteArray())),
        new Target(raw(svc + "/FetchBlob", MethodDescriptor.MethodType.SERVER_STREAMING), List.of(
            FetchBlobRequest.newBuilder().setId(blob.value()).setChunkSize(64 << 10).build().toByteArray(),
            FetchBlobRequest.newBuilder().setId(table.value()).build().toByteArray())),
        new Target(raw(svc + "/NoSuchMethod", unary), List.of(new byte[] {8, 1})),
        new Target(raw("vineyard.rpc.Nope/GetMeta", unary), List.of(new byte[0])));
  }

  static byte[] mutate(byte[] in, Random r) {
    byte[] b = in.clone();
    if (b.length == 0 || r.nextInt(8) == 0) {
      byte[] junk = new byte[r.nextInt(64)];
      r.nextBytes(junk);
      return junk;
    }
    for (int k = 1 + r.nextInt(3); k > 0; k--) {
      int at = r.nextInt(b.length);
      switch (r.nextInt(3)) {
        case 0 -> b[at] = (byte) r.nextInt();
        case 1 -> b[at] ^= (byte) (1 << r.nextInt(8));
        default -> b = java.util.Arrays.copyOf(b, at); // cut short
      }
      if (b.length == 0) {
        break;
      }
    }
    return b;
  }

  /**
   * One call, to its end; with {@code cancelAfterFirst}, a stream is cancelled at its first message.
   * Returns its status.
   */
  static Status call(io.grpc.Channel ch, MethodDescriptor<byte[], byte[]> m, byte[] request, boolean cancelAfterFirst) {
    CompletableFuture<Status> done = new CompletableFuture<>();
    ClientCall<byte[], byte[]> call = ch.newCall(m, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS));
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(byte[] message) {
        if (cancelAfterFirst) {
          call.cancel("the fuzzer leaves", null);
        } else {
          call.request(1);
        }
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        done.complete(status);
      }
    }, new Metadata());
    call.request(1);
    call.sendMessage(request);
    call.halfClose();
    return done.join();
  }

  @Test
  void malformedCallsEndWithAStatusAndHarmNoOne() throws Exception {
    StoreStats baseline = bystander.stats();
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    Random r = new Random(seed);
    Metadata good = new Metadata();
    good.put(RpcAuth.AUTHORIZATION, RpcAuth.BEARER + TOKEN);
    Metadata wrong = new Metadata();
    wrong.put(RpcAuth.AUTHORIZATION, RpcAuth.BEARER + "not-the-token-at-all-000");
    io.grpc.Channel authed = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(good));
    io.grpc.Channel badToken = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(wrong));
    Set<Status.Code> expected = EnumSet.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT, Status.Code.NOT_FOUND,
        Status.Code.UNIMPLEMENTED, Status.Code.UNAUTHENTICATED, Status.Code.CANCELLED, Status.Code.FAILED_PRECONDITION);
    List<Target> targets = targets();
    int[] byCode = new int[Status.Code.values().length];
    for (int i = 0; i < CALLS; i++) {
      Target t = targets.get(r.nextInt(targets.size()));
      byte[] base = t.corpus().get(r.nextInt(t.corpus().size()));
      int kind = r.nextInt(100);
      io.grpc.Channel ch = kind < 5 ? channel : kind < 8 ? badToken : authed;
      byte[] req = kind < 30 ? base : mutate(base, r);
      boolean cancel = t.method().getType() == MethodDescriptor.MethodType.SERVER_STREAMING && r.nextBoolean();
      Status s = call(ch, t.method(), req, cancel);
      byCode[s.getCode().ordinal()]++;
      String what = "seed " + seed + ", call " + i + " " + t.method().getFullMethodName() + ": " + s;
      if (!expected.contains(s.getCode())) {
        Thread.sleep(500);
        throw new AssertionError(what + ", request " + java.util.HexFormat.of().formatHex(req) + "\n" + daemon.log());
      }
      if (ch != authed && s.getCode() != Status.Code.UNIMPLEMENTED) { // an unknown method is not served, token or not
        assertEquals(Status.Code.UNAUTHENTICATED, s.getCode(), what);
      }
      assertTrue(s.getDescription() == null || s.getDescription().length() < 4096, what);
    }
    System.out.printf("RpcFuzzIT seed %d: %d calls;", seed, CALLS);
    for (Status.Code c : Status.Code.values()) {
      if (byCode[c.ordinal()] > 0) {
        System.out.printf(" %s %d", c, byCode[c.ordinal()]);
      }
    }
    System.out.println();
    assertTrue(byCode[Status.Code.OK.ordinal()] > 100 && byCode[Status.Code.UNAUTHENTICATED.ordinal()] > 50);

    String log = daemon.log();
    assertTrue(!log.contains("request failed unexpectedly") && !log.contains("unexpected error") && !log.contains("SEVERE")
        && !log.contains("OutOfMemoryError") && !log.contains("StackOverflowError"),
        "seed " + seed + ": the daemon logged a bug:\n" + log.lines().filter(l -> l.contains("ERROR") || l.contains("Exception")).limit(40).toList());
    // Every stream's pin is dropped, cancelled ones included; the data and the port are as before.
    Poll.until(Duration.ofSeconds(20), Duration.ofMillis(50), "every fetch stream's pin to be dropped",
        () -> bystander.stats().pinnedBlobCount() == baseline.pinnedBlobCount());
    StoreStats after = bystander.stats();
    assertEquals(baseline.objectCount(), after.objectCount());
    assertEquals(baseline.usedBytes(), after.usedBytes());
    assertEquals(baseline.clientCount(), after.clientCount());
    try (RpcClient rpc = RpcClient.builder(daemon.info().rpcEndpoint()).token(TOKEN).build()) {
      assertArrayEquals(blobData, rpc.fetchBlob(blob));
      assertEquals(table, rpc.getName("bystander"));
      assertEquals(3L, rpc.getMeta(table).getLong("rows"));
    }
  }
}
