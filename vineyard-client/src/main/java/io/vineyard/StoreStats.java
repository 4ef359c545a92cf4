package io.vineyard;

/**
 * A daemon's counters at one moment.
 *
 * @param instanceId the daemon's instance id
 * @param capacityBytes the shared-memory limit
 * @param usedBytes resident bytes: arena bytes handed out to blobs, sealed or not
 * @param objectCount objects (including blobs)
 * @param blobCount sealed and unsealed blobs
 * @param unsealedBlobCount blobs being written
 * @param pinnedBlobCount blobs some client holds
 * @param clientCount connected clients
 * @param nameCount bound names
 * @param heapUsedBytes the daemon JVM's heap in use
 * @param heapMaxBytes the daemon JVM's heap limit
 * @param largestFreeBytes largest blob that can be created right now
 * @param spilledBytes bytes of sealed blobs written out to the spill directory (not resident)
 * @param spilledBlobCount blobs currently spilled
 * @param spillWrites blobs spilled since the daemon started
 * @param reloads spilled blobs loaded back since the daemon started
 * @param directMemoryBytes direct (off-heap, not shared) memory the daemon's JVM holds: its
 *     connections' request and answer buffers
 */
public record StoreStats(
    long instanceId,
    long capacityBytes,
    long usedBytes,
    long objectCount,
    long blobCount,
    long unsealedBlobCount,
    long pinnedBlobCount,
    long clientCount,
    long nameCount,
    long heapUsedBytes,
    long heapMaxBytes,
    long largestFreeBytes,
    long spilledBytes,
    long spilledBlobCount,
    long spillWrites,
    long reloads,
    long directMemoryBytes) {}
