package io.vineyard;

/**
 * Where one part of an object lives: the object itself, one of its members, or a blob under it. A
 * scheduler uses these to place work next to the data.
 *
 * @param path the member path from the located object ({@code ""} for the object itself, {@code
 *     chunk-0/buffer} below it)
 * @param id the part's id
 * @param typename the part's type ({@link ObjectMeta#BLOB_TYPENAME} for a blob)
 * @param nbytes the part's size
 * @param instanceId the instance that holds it
 * @param hostname that instance's host; empty when the instance is not registered (any more)
 * @param rpcEndpoint that instance's gRPC endpoint; empty when unknown
 */
public record Placement(
    String path, ObjectId id, String typename, long nbytes, long instanceId, String hostname, String rpcEndpoint) {

  public boolean isBlob() {
    return id.isBlob();
  }
}
