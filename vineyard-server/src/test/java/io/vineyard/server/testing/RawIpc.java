package io.vineyard.server.testing;

import io.vineyard.proto.ipc.ProtocolVersion;
import io.vineyard.proto.ipc.RegisterRequest;
import io.vineyard.proto.ipc.Request;
import io.vineyard.proto.ipc.Response;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** The IPC protocol spoken frame by frame over a plain socket, for tests that need to misbehave. */
public final class RawIpc {

  private RawIpc() {}

  public static SocketChannel connect(Path socket) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ch.connect(UnixDomainSocketAddress.of(socket));
    return ch;
  }

  /** Sends a frame header announcing {@code length} bytes, followed by {@code payload}. */
  public static void send(SocketChannel ch, int length, byte[] payload) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4 + payload.length).putInt(length).put(payload).flip();
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  public static void send(SocketChannel ch, Request r) throws IOException {
    byte[] bytes = r.toByteArray();
    send(ch, bytes.length, bytes);
  }

  /** Sends several requests in one write, without waiting for any answer. */
  public static void sendAll(SocketChannel ch, Request... requests) throws IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (Request r : requests) {
      byte[] bytes = r.toByteArray();
      out.write(ByteBuffer.allocate(4).putInt(bytes.length).array());
      out.write(bytes);
    }
    ByteBuffer b = ByteBuffer.wrap(out.toByteArray());
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  public static Response read(SocketChannel ch) throws IOException {
    ByteBuffer len = ByteBuffer.allocate(4);
    readFully(ch, len);
    ByteBuffer body = ByteBuffer.allocate(len.flip().getInt());
    readFully(ch, body);
    return Response.parseFrom(body.flip());
  }

  private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) {
        throw new IOException("closed by daemon");
      }
    }
  }

  public static Request register() {
    return Request.newBuilder()
        .setRegister(RegisterRequest.newBuilder().setVersion(ProtocolVersion.PROTOCOL_VERSION_2).setClientName("raw"))
        .build();
  }
}
