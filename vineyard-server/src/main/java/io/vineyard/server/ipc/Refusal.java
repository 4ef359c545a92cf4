package io.vineyard.server.ipc;

import io.netty.channel.Channel;
import io.netty.channel.socket.DuplexChannel;
import io.vineyard.proto.ipc.Response;
import java.util.concurrent.TimeUnit;

/**
 * Ends a connection the daemon refuses so that its client reads why: the error is written, the
 * daemon's side shut for writing (the client reads the error, then the end of the stream), and the
 * connection closed a moment later. Closing at once would drop the error whenever the client had
 * sent something the daemon did not read (the kernel then resets the connection).
 */
final class Refusal {

  /** How long a refused connection stays half-open for its client to read the error. */
  static final long LINGER_MILLIS = 1000;

  private Refusal() {}

  static void send(Channel ch, Response error) {
    ch.writeAndFlush(error).addListener(f -> {
      if (ch instanceof DuplexChannel d && f.isSuccess()) {
        d.shutdownOutput();
        ch.eventLoop().schedule(() -> ch.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
      } else {
        ch.close();
      }
    });
  }
}
