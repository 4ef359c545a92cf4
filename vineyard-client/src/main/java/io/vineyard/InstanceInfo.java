package io.vineyard;

import java.time.Instant;

/**
 * One daemon of the cluster as registered in the metadata backend.
 *
 * @param id the instance id (embedded in every object id it mints)
 * @param hostname the host it runs on
 * @param ipcSocket its UNIX-domain socket, on that host
 * @param rpcEndpoint {@code host:port} of its gRPC service; empty when it serves none
 * @param usedBytes shared memory in use, as of its last heartbeat
 * @param capacityBytes its shared-memory limit
 * @param startedAt when it started
 * @param daemonVersion its version
 */
public record InstanceInfo(
    long id,
    String hostname,
    String ipcSocket,
    String rpcEndpoint,
    long usedBytes,
    long capacityBytes,
    Instant startedAt,
    String daemonVersion) {}
