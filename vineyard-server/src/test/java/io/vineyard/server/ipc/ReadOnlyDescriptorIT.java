package io.vineyard.server.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ObjectId;
import io.vineyard.client.Blob;
import io.vineyard.client.BlobWriter;
import io.vineyard.client.IpcClient;
import io.vineyard.internal.Libc;
import io.vineyard.internal.UnixSocketConnection;
import io.vineyard.proto.ipc.CreateBlobRequest;
import io.vineyard.proto.ipc.GetBlobsRequest;
import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.Region;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import io.vineyard.testing.DaemonProcess;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sealed data stays immutable against other clients: a client that reads is handed a read-only
 * descriptor of the region, which cannot be mapped writable; only a client given a blob to fill in
 * place gets a writable one. Checked on the descriptors themselves, over a raw connection.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ReadOnlyDescriptorIT {

  private static final int SIZE = 1 << 20; // larger than the inline limit: written in place

  @TempDir static Path work;
  static DaemonProcess daemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(work, "64Mi");
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
  }

  /** The access mode a descriptor of this process was opened with (O_RDONLY, O_WRONLY or O_RDWR). */
  private static int accessMode(int fd) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
      if (line.startsWith("flags:")) {
        return Integer.parseInt(line.substring(6).trim(), 8) & 3;
      }
    }
    throw new AssertionError("no flags in /proc/self/fdinfo/" + fd);
  }

  private static Response call(UnixSocketConnection c, Request r) {
    c.writeFrame(r);
    try {
      return Response.parseFrom(c.readFrame(1 << 20));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  private static UnixSocketConnection register() {
    UnixSocketConnection c = UnixSocketConnection.connect(daemon.socket(), Duration.ofSeconds(30));
    Response r = call(c, Request.newBuilder().setRequestId(1)
        .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName("raw"))
        .build());
    assertFalse(r.hasError(), r.toString());
    return c;
  }

  @Test
  void aReaderGetsAReadOnlyDescriptorThatCannotBeMappedWritable() throws Exception {
    ObjectId id;
    try (IpcClient writer = daemon.connect()) {
      try (BlobWriter w = writer.createBlob(SIZE)) {
        w.segment().fill((byte) 0x33);
        id = w.seal();
      }
      try (UnixSocketConnection reader = register()) {
        Response got = call(reader, Request.newBuilder().setRequestId(2)
            .setGetBlobs(GetBlobsRequest.newBuilder().addIds(id.value())).build());
        assertFalse(got.hasError(), got.toString());
        assertEquals(1, got.getNewRegionsCount());
        Region region = got.getNewRegions(0);
        assertFalse(region.getWritable(), "a get announces the region read-only");
        int fd = reader.takeFd();
        try {
          assertEquals(Libc.O_RDONLY, accessMode(fd), "the descriptor a reader holds");
          long rw = Libc.mmap(region.getSize(), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
          if (rw != -1) {
            Libc.munmap(rw, region.getSize());
          }
          assertEquals(-1, rw, "a writable shared mapping of the reader's descriptor must fail");
          try (Arena arena = Arena.ofConfined()) {
            MemorySegment view = Libc.map(fd, region.getSize(), false, false, arena); // a read-only mapping works
            long offset = got.getGetBlobs().getBlobs(0).getOffset();
            assertEquals((byte) 0x33, view.get(ValueLayout.JAVA_BYTE, offset + SIZE - 1));
          }
        } finally {
          Libc.closeQuietly(fd);
        }
      }
      writer.delete(id);
    }
  }

  @Test
  void onlyACreateInPlaceHandsOutAWritableDescriptor() throws Exception {
    try (UnixSocketConnection c = register()) {
      Response sealedAtOnce = call(c, Request.newBuilder().setRequestId(2)
          .setCreateBlob(CreateBlobRequest.newBuilder().setSize(3).setSealWithData(true)
              .setData(com.google.protobuf.ByteString.copyFromUtf8("abc")))
          .build());
      assertFalse(sealedAtOnce.hasError(), sealedAtOnce.toString());
      assertEquals(0, sealedAtOnce.getNewRegionsCount(), "a blob sealed from inline bytes needs no region");

      Response created = call(c, Request.newBuilder().setRequestId(3)
          .setCreateBlob(CreateBlobRequest.newBuilder().setSize(SIZE)).build());
      assertFalse(created.hasError(), created.toString());
      assertEquals(1, created.getNewRegionsCount());
      assertTrue(created.getNewRegions(0).getWritable(), "a create in place announces the region writable");
      int fd = c.takeFd();
      try {
        assertEquals(Libc.O_RDWR, accessMode(fd));
      } finally {
        Libc.closeQuietly(fd);
      }
      // Reading in the same region then brings its read-only descriptor as well, once.
      long blob = created.getCreateBlob().getBlob().getId();
      c.writeFrame(Request.newBuilder().setRequestId(4)
          .setSealBlob(io.vineyard.proto.ipc.SealBlobRequest.newBuilder().setId(blob)).build());
      Response sealed = Response.parseFrom(c.readFrame(1 << 20));
      assertFalse(sealed.hasError(), sealed.toString());
      for (int round = 0; round < 2; round++) {
        Response got = call(c, Request.newBuilder().setRequestId(5 + round)
            .setGetBlobs(GetBlobsRequest.newBuilder().addIds(blob)).build());
        assertFalse(got.hasError(), got.toString());
        if (round == 0) {
          assertEquals(1, got.getNewRegionsCount());
          assertFalse(got.getNewRegions(0).getWritable());
          int ro = c.takeFd();
          assertEquals(Libc.O_RDONLY, accessMode(ro));
          Libc.closeQuietly(ro);
        } else {
          assertEquals(0, got.getNewRegionsCount(), "each descriptor goes out once");
        }
      }
    }
  }

  @Test
  void theJavaClientReadsAndWritesThroughTheRightDescriptors() {
    try (IpcClient a = daemon.connect(); IpcClient b = daemon.connect()) {
      ObjectId id;
      try (BlobWriter w = a.createBlob(SIZE)) {
        w.segment().fill((byte) 7);
        id = w.seal();
      }
      try (Blob blob = b.getBlob(id)) {
        assertEquals((byte) 7, blob.segment().get(ValueLayout.JAVA_BYTE, SIZE - 1));
        assertTrue(blob.segment().isReadOnly());
      }
      try (Blob again = a.getBlob(id)) {
        assertEquals((byte) 7, again.segment().get(ValueLayout.JAVA_BYTE, 0));
      }
      a.delete(id);
    }
  }
}
