package io.vineyard.server.ipc;

import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import java.time.Duration;

/**
 * What one client, or all of them together, may hold of the daemon's connections and memory before
 * it has made a request, and how long it may take to finish one. Every limit protects the daemon
 * from a client that connects and then stops half-way: without them, seven unregistered
 * connections that sent most of a 64 MiB frame each held 413 MiB of the daemon's direct memory.
 *
 * @param maxConnections connections open at once, registered or not; more are refused
 * @param maxConnectionsPerUid connections open at once by one user (by peer credentials)
 * @param registerTimeout a connection that has not registered within this time is closed
 * @param frameTimeout a request frame begun must be complete within this time, else the connection is closed
 * @param maxBufferedBytes bytes of incomplete request frames all connections together may hold; a
 *     connection whose frame would take more waits (is not read) until others complete or are closed
 * @param unregisteredMaxFrame the largest frame a connection may send before it has registered
 *     (a register request is a few dozen bytes)
 */
public record IpcLimits(
    int maxConnections,
    int maxConnectionsPerUid,
    Duration registerTimeout,
    Duration frameTimeout,
    long maxBufferedBytes,
    int unregisteredMaxFrame) {

  public static final int DEFAULT_MAX_CONNECTIONS = 4096;
  public static final int DEFAULT_MAX_CONNECTIONS_PER_UID = 1024;
  public static final Duration DEFAULT_REGISTER_TIMEOUT = Duration.ofSeconds(10);
  public static final Duration DEFAULT_FRAME_TIMEOUT = Duration.ofSeconds(30);
  public static final long DEFAULT_MAX_BUFFERED = 256L << 20;
  public static final int DEFAULT_UNREGISTERED_MAX_FRAME = 64 << 10;

  /** The defaults the daemon starts with (see docs/operations.md). */
  public static final IpcLimits DEFAULT = new IpcLimits(DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_UID,
      DEFAULT_REGISTER_TIMEOUT, DEFAULT_FRAME_TIMEOUT, DEFAULT_MAX_BUFFERED, DEFAULT_UNREGISTERED_MAX_FRAME);

  public IpcLimits {
    if (maxConnections < 1 || maxConnectionsPerUid < 1) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "connection limits must be at least 1");
    }
    if (registerTimeout.isNegative() || registerTimeout.isZero() || frameTimeout.isNegative() || frameTimeout.isZero()) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "timeouts must be positive");
    }
    if (maxBufferedBytes < 1) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "the buffer for incomplete requests must be positive");
    }
    if (unregisteredMaxFrame < 64) {
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "the largest frame before registering must be at least 64 bytes");
    }
  }
}
