package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.client.Blob;
import io.vineyard.client.IpcClient;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.proto.ipc.StatsRequest;
import io.vineyard.server.testing.RawIpc;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile or broken peers: each gets an error and loses its own connection, while a client that
 * was connected all along keeps working with its pinned data intact.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class MalformedFrameIT {

  @TempDir static Path work;
  static DaemonProcess daemon;
  static IpcClient bystander;
  static ObjectId held;
  static Blob heldBlob;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(work, "64Mi", "--max-frame", "1Mi");
    bystander = daemon.connect();
    held = bystander.putBlob(new byte[] {9, 8, 7});
    heldBlob = bystander.getBlob(held);
  }

  @AfterAll
  static void stop() throws Exception {
    if (bystander != null) {
      heldBlob.close();
      bystander.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  private static SocketChannel raw() throws IOException {
    return RawIpc.connect(daemon.socket());
  }

  private static void assertClosedByDaemon(SocketChannel ch) throws IOException {
    assertEquals(-1, ch.read(ByteBuffer.allocate(16)), "daemon should close the connection");
  }

  private static void assertBystanderUnharmed() {
    assertTrue(daemon.isAlive());
    assertEquals(9, heldBlob.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    assertEquals(1, bystander.stats().pinnedBlobCount());
    try (IpcClient fresh = daemon.connect()) {
      assertTrue(fresh.exists(held));
    }
  }

  @Test
  void oversizedFrameClosesOnlyThatConnection() throws IOException {
    try (SocketChannel ch = raw()) {
      RawIpc.send(ch, RawIpc.register());
      assertTrue(RawIpc.read(ch).hasRegister());
      RawIpc.send(ch, 64 << 20, new byte[64]); // announces 64 MiB; the limit is 1 MiB
      Response r = RawIpc.read(ch);
      assertEquals(ErrorCode.PROTOCOL_ERROR.code(), r.getError().getCode());
      assertTrue(r.getError().getMessage().contains("too long"), r.getError().getMessage());
      assertClosedByDaemon(ch);
    }
    assertBystanderUnharmed();
  }

  @Test
  void garbagePayloadClosesOnlyThatConnection() throws IOException {
    try (SocketChannel ch = raw()) {
      byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x01, 0x02};
      RawIpc.send(ch, garbage.length, garbage);
      Response r = RawIpc.read(ch);
      assertEquals(ErrorCode.PROTOCOL_ERROR.code(), r.getError().getCode());
      assertClosedByDaemon(ch);
    }
    assertBystanderUnharmed();
  }

  @Test
  void requestsBeforeRegisterAreRejected() throws IOException {
    try (SocketChannel ch = raw()) {
      RawIpc.send(ch, Request.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
      Response r = RawIpc.read(ch);
      assertEquals(ErrorCode.PROTOCOL_ERROR.code(), r.getError().getCode());
      assertClosedByDaemon(ch);
    }
    assertBystanderUnharmed();
  }

  @Test
  void emptyRequestIsAProtocolError() throws IOException {
    try (SocketChannel ch = raw()) {
      RawIpc.send(ch, RawIpc.register());
      RawIpc.read(ch);
      RawIpc.send(ch, 0, new byte[0]);
      assertEquals(ErrorCode.PROTOCOL_ERROR.code(), RawIpc.read(ch).getError().getCode());
      assertClosedByDaemon(ch);
    }
    assertBystanderUnharmed();
  }

  @Test
  void peerThatStallsMidFrameOrVanishesHarmsNoOne() throws IOException {
    SocketChannel stalled = raw();
    RawIpc.send(stalled, 1000, new byte[10]); // a frame that never completes
    try (SocketChannel vanishing = raw()) {
      RawIpc.send(vanishing, RawIpc.register());
      RawIpc.read(vanishing);
      RawIpc.send(vanishing, 500, new byte[100]);
    } // closed half-way through a frame
    assertBystanderUnharmed();
    stalled.close();
    assertBystanderUnharmed();
  }
}
