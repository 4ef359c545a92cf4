package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.StoreStats;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.server.testing.RawIpc;
import io.vineyard.testing.DaemonProcess;
import io.vineyard.testing.Poll;
import java.lang.foreign.ValueLayout;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded soak (issue 19): many connections of mixed operations at once, some of them leaving
 * abruptly (pins held, blobs unsealed, a frame half sent), for at most about 20 s. No operation may
 * fail, every byte read must be the one written, and afterwards the daemon must be back where it
 * started: no objects, blobs, pins or clients left, and its direct memory back near its level.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class MixedLoadSoakIT {

  private static final int CONNECTIONS = 32;
  private static final long SECONDS = 12;
  private static final int MAX_OPS_PER_CONNECTION = 200_000;
  private static final long MIB = 1 << 20;

  @TempDir static Path work;
  static DaemonProcess daemon;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(work, "512Mi", "--frame-timeout", "2", "--register-timeout", "2");
  }

  @AfterAll
  static void stop() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void manyConnectionsOfMixedOperationsFailNothingAndLeaveNothingBehind() throws Exception {
    StoreStats base;
    try (IpcClient c = daemon.connect()) {
      base = c.stats();
    }
    List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
    AtomicLong ops = new AtomicLong();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < CONNECTIONS; t++) {
      int id = t;
      threads.add(Thread.ofPlatform().name("soak-" + t).start(() -> {
        try {
          if (id % 8 == 7) {
            leaveAbruptly(id, deadline);
          } else {
            work(id, deadline, ops);
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(SECONDS + 60));
    }
    assertTrue(failures.isEmpty(), failures.size() + " connections failed, the first: " + (failures.isEmpty() ? "" : failures.getFirst()));
    assertTrue(ops.get() > 1000, "the load ran: " + ops.get() + " operations");
    try (IpcClient c = daemon.connect()) {
      StoreStats end = Poll.until(Duration.ofSeconds(15), Duration.ofMillis(100), "the daemon back to where it started",
          c::stats, s -> s.objectCount() == base.objectCount() && s.blobCount() == base.blobCount()
              && s.pinnedBlobCount() == 0 && s.unsealedBlobCount() == 0 && s.clientCount() == 1
              && s.usedBytes() == base.usedBytes() && s.nameCount() == base.nameCount()
              && s.directMemoryBytes() <= base.directMemoryBytes() + 16 * MIB);
      assertEquals(base.usedBytes(), end.usedBytes());
    }
    assertTrue(daemon.isAlive());
  }

  /** A well-behaved connection: create, read back, describe, name, list, delete; every byte checked. */
  private static void work(int id, long deadline, AtomicLong ops) {
    try (IpcClient c = IpcClient.builder().socket(daemon.socket()).clientName("soak-" + id).connect()) {
      ArrayDeque<ObjectId> blobs = new ArrayDeque<>();
      ArrayDeque<Long> tags = new ArrayDeque<>();
      List<ObjectId> objects = new ArrayList<>();
      for (long i = 0; i < MAX_OPS_PER_CONNECTION && System.nanoTime() < deadline; i++) {
        switch ((int) (i % 8)) {
          case 0, 4 -> {
            long size = i % 32 == 0 ? 256 << 10 : 4096;
            try (BlobWriter w = c.createBlob(size)) {
              w.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, id * 1_000_003L + i);
              w.segment().set(ValueLayout.JAVA_BYTE, size - 1, (byte) i);
              blobs.addLast(w.seal());
              tags.addLast(id * 1_000_003L + i);
            }
          }
          case 1, 5 -> {
            try (Blob b = c.getBlob(blobs.peekLast())) {
              long tag = b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
              if (tag != tags.peekLast()) {
                throw new AssertionError("read " + tag + ", wrote " + tags.peekLast());
              }
            }
          }
          case 2 -> objects.add(c.putMeta(ObjectMeta.builder("soak::Item").field("i", i).member("b", blobs.peekLast()).build()));
          case 3 -> {
            ObjectMeta m = c.getMeta(objects.getLast());
            if (!m.member("b").id().equals(blobs.peekLast()) && !blobs.contains(m.member("b").id())) {
              throw new AssertionError("member of " + m.id() + " is not a blob this connection made");
            }
          }
          case 6 -> {
            c.putName("soak-" + id, objects.getLast());
            if (!c.getName("soak-" + id).equals(objects.getLast())) {
              throw new AssertionError("name bound elsewhere");
            }
            c.listObjects("soak::*", 50);
            c.stats();
          }
          default -> {
            if (blobs.size() > 16) {
              List<ObjectId> drop = new ArrayList<>(objects);
              while (blobs.size() > 4) {
                drop.add(blobs.pollFirst());
                tags.pollFirst();
              }
              c.delete(drop, true, false);
              objects.clear();
            }
          }
        }
        ops.incrementAndGet();
      }
      List<ObjectId> all = new ArrayList<>(objects);
      all.addAll(blobs);
      c.delete(all, true, false); // the name goes with its object
    }
  }

  /** Connections that go away without cleaning up, or stop in the middle of a frame, again and again. */
  private static void leaveAbruptly(int id, long deadline) throws Exception {
    ObjectId shared;
    try (IpcClient owner = daemon.connect()) {
      shared = owner.putBlob(new byte[] {1, 2, 3});
      for (int round = 0; round < 200 && System.nanoTime() < deadline; round++) {
        if (round % 2 == 0) {
          // Registers, pins the owner's blob and leaves an unsealed blob, then drops the connection.
          try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
            RawIpc.send(ch, RawIpc.register());
            RawIpc.read(ch);
            // Both answers carry a region's descriptor, which a plain channel cannot take: unread.
            RawIpc.sendAll(ch,
                io.vineyard.proto.ipc.Request.newBuilder().setRequestId(1)
                    .setGetBlobs(io.vineyard.proto.ipc.GetBlobsRequest.newBuilder().addIds(shared.value())).build(),
                io.vineyard.proto.ipc.Request.newBuilder().setRequestId(2)
                    .setCreateBlob(io.vineyard.proto.ipc.CreateBlobRequest.newBuilder().setSize(MIB)).build());
            Thread.sleep(10);
          }
        } else {
          // Half a frame, then gone.
          try (SocketChannel ch = RawIpc.connect(daemon.socket())) {
            RawIpc.send(ch, RawIpc.register());
            RawIpc.read(ch);
            RawIpc.send(ch, 1 << 20, new byte[64 << 10]);
          }
        }
        Thread.sleep(20);
      }
      owner.delete(List.of(shared), false, false);
    }
  }
}
