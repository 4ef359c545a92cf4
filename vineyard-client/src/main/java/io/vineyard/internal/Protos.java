package io.vineyard.internal;

import io.vineyard.ErrorCode;
import io.vineyard.InstanceInfo;
import io.vineyard.ObjectId;
import io.vineyard.ObjectMeta;
import io.vineyard.Placement;
import io.vineyard.StoreStats;
import io.vineyard.VineyardException;
import io.vineyard.proto.ipc.FieldValue;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import io.vineyard.proto.ipc.ListEntry;
import io.vineyard.proto.ipc.ListResponse;
import io.vineyard.proto.ipc.StatsResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Conversions between the public value types and their wire messages. */
public final class Protos {

  private Protos() {}

  /**
   * The deepest object tree a client reads (a blob is one level); a daemon refuses to store deeper
   * ones ({@code --max-depth} is at most this).
   */
  public static final int MAX_TREE_DEPTH = 256;

  /**
   * Nesting of messages a reply may have: each level of a tree is two messages (the member map's
   * entry and the member), plus the envelope. Protobuf's default of 100 stops at about 49 levels.
   */
  public static final int MAX_NESTING = 2 * MAX_TREE_DEPTH + 16;

  /** Parses a reply whose object trees may be as deep as {@link #MAX_TREE_DEPTH}. */
  public static io.vineyard.proto.ipc.Response parseResponse(java.nio.ByteBuffer frame)
      throws com.google.protobuf.InvalidProtocolBufferException {
    com.google.protobuf.CodedInputStream in = com.google.protobuf.CodedInputStream.newInstance(frame);
    in.setRecursionLimit(MAX_NESTING);
    try {
      io.vineyard.proto.ipc.Response r = io.vineyard.proto.ipc.Response.parseFrom(in);
      in.checkLastTagWas(0);
      return r;
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw e;
    } catch (java.io.IOException e) {
      throw new com.google.protobuf.InvalidProtocolBufferException(e);
    }
  }

  /**
   * Refuses metadata whose text UTF-8 cannot carry: a lone surrogate (half of a character outside
   * the BMP) would reach the daemon as '?' with only a log line on the client.
   */
  public static void checkText(ObjectMeta meta) {
    checkText("typename", meta.typename());
    meta.fields().forEach((k, v) -> {
      checkText("field name", k);
      if (v instanceof String s) {
        checkText("field '" + k + "'", s);
      } else if (v instanceof ObjectMeta.Json j) {
        checkText("field '" + k + "'", j.text());
      }
    });
    meta.members().keySet().forEach(k -> checkText("member name", k));
  }

  private static void checkText(String what, String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new VineyardException(ErrorCode.INVALID_ARGUMENT,
            "the " + what + " has a lone surrogate (U+" + Integer.toHexString(c).toUpperCase(java.util.Locale.ROOT) + " at "
                + i + "): not text that UTF-8 can carry");
      }
    }
  }

  /**
   * The message of a tree. A member that appears at several places as one instance (the daemon
   * expands a shared member once) becomes one message, shared: what this builds grows with the
   * distinct objects, not with the places they appear.
   */
  public static io.vineyard.proto.ipc.ObjectMeta toProto(ObjectMeta meta) {
    return toProto(meta, new java.util.IdentityHashMap<>());
  }

  private static io.vineyard.proto.ipc.ObjectMeta toProto(
      ObjectMeta meta, Map<ObjectMeta, io.vineyard.proto.ipc.ObjectMeta> done) {
    if (!meta.members().isEmpty()) {
      io.vineyard.proto.ipc.ObjectMeta known = done.get(meta);
      if (known != null) {
        return known;
      }
    }
    io.vineyard.proto.ipc.ObjectMeta.Builder b =
        io.vineyard.proto.ipc.ObjectMeta.newBuilder()
            .setTypename(meta.typename())
            .setNbytes(meta.nbytes())
            .setInstanceId(meta.instanceId())
            .setGlobal(meta.isGlobal());
    if (meta.id() != null) {
      b.setId(meta.id().value());
    }
    meta.fields().forEach((k, v) -> b.putFields(k, toProto(v)));
    meta.members().forEach((k, v) -> b.putMembers(k, toProto(v, done)));
    io.vineyard.proto.ipc.ObjectMeta built = b.build();
    if (!meta.members().isEmpty()) {
      done.put(meta, built);
    }
    return built;
  }

  public static ObjectMeta fromProto(io.vineyard.proto.ipc.ObjectMeta p) {
    if (p.getTypename().isEmpty()) {
      return ObjectMeta.reference(new ObjectId(p.getId()));
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    p.getFieldsMap().forEach((k, v) -> fields.put(k, fromProto(v)));
    Map<String, ObjectMeta> members = new LinkedHashMap<>();
    p.getMembersMap().forEach((k, v) -> members.put(k, fromProto(v)));
    // Id 0 is never minted: it marks metadata not stored yet.
    return ObjectMeta.of(
        p.getId() == 0 ? null : new ObjectId(p.getId()), p.getTypename(), p.getNbytes(), p.getInstanceId(), p.getGlobal(), fields, members);
  }

  public static FieldValue toProto(Object v) {
    FieldValue.Builder b = FieldValue.newBuilder();
    switch (v) {
      case String s -> b.setStringValue(s);
      case Long l -> b.setIntValue(l);
      case Double d -> b.setDoubleValue(d);
      case Boolean z -> b.setBoolValue(z);
      case ObjectMeta.Json j -> b.setJsonValue(j.text());
      default -> throw new VineyardException(ErrorCode.INVALID_ARGUMENT, "unsupported field value " + v);
    }
    return b.build();
  }

  public static Object fromProto(FieldValue v) {
    return switch (v.getValueCase()) {
      case STRING_VALUE -> v.getStringValue();
      case INT_VALUE -> v.getIntValue();
      case DOUBLE_VALUE -> v.getDoubleValue();
      case BOOL_VALUE -> v.getBoolValue();
      case JSON_VALUE -> new ObjectMeta.Json(v.getJsonValue());
      case VALUE_NOT_SET -> throw new VineyardException(ErrorCode.PROTOCOL_ERROR, "field value not set");
    };
  }

  public static StoreStats fromProto(StatsResponse s) {
    return new StoreStats(
        s.getInstanceId(),
        s.getCapacityBytes(),
        s.getUsedBytes(),
        s.getObjectCount(),
        s.getBlobCount(),
        s.getUnsealedBlobCount(),
        s.getPinnedBlobCount(),
        s.getClientCount(),
        s.getNameCount(),
        s.getHeapUsedBytes(),
        s.getHeapMaxBytes(),
        s.getLargestFreeBytes(),
        s.getSpilledBytes(),
        s.getSpilledBlobCount(),
        s.getSpillWrites(),
        s.getReloads(),
        s.getDirectMemoryBytes());
  }

  public static io.vineyard.proto.ipc.Error toProto(VineyardException e) {
    return io.vineyard.proto.ipc.Error.newBuilder().setCode(e.code().code()).setMessage(e.reason()).build();
  }

  public static VineyardException fromProto(io.vineyard.proto.ipc.Error e) {
    return new VineyardException(ErrorCode.fromCode(e.getCode()), e.getMessage());
  }

  public static InstanceInfo fromProto(io.vineyard.proto.ipc.InstanceInfo p) {
    return new InstanceInfo(
        p.getId(),
        p.getHostname(),
        p.getIpcSocket(),
        p.getRpcEndpoint(),
        p.getUsedBytes(),
        p.getCapacityBytes(),
        Instant.ofEpochMilli(p.getStartedAtMillis()),
        p.getDaemonVersion());
  }

  public static io.vineyard.proto.ipc.InstanceInfo toProto(InstanceInfo i) {
    return io.vineyard.proto.ipc.InstanceInfo.newBuilder()
        .setId(i.id())
        .setHostname(i.hostname())
        .setIpcSocket(i.ipcSocket())
        .setRpcEndpoint(i.rpcEndpoint())
        .setUsedBytes(i.usedBytes())
        .setCapacityBytes(i.capacityBytes())
        .setStartedAtMillis(i.startedAt() == null ? 0 : i.startedAt().toEpochMilli())
        .setDaemonVersion(i.daemonVersion())
        .build();
  }

  public static Placement fromProto(io.vineyard.proto.ipc.Placement p) {
    return new Placement(
        p.getPath(), new ObjectId(p.getId()), p.getTypename(), p.getNbytes(), p.getInstanceId(), p.getHostname(), p.getRpcEndpoint());
  }

  public static Listing fromProto(ListResponse r) {
    List<ObjectInfo> out = new ArrayList<>(r.getEntriesCount());
    for (ListEntry e : r.getEntriesList()) {
      out.add(new ObjectInfo(fromProto(e.getMeta()), e.getNamesList()));
    }
    return new Listing(out, r.getTruncated());
  }

  public static ListResponse toProto(Listing listing) {
    return toProto(listing, Long.MAX_VALUE);
  }

  /** Bytes of a listing's answer beside its entries: the envelope, the request id, the flag. */
  private static final int LISTING_ENVELOPE = 64;

  /**
   * A listing as a message of at most {@code maxBytes}: the entries that fit, in order, and marked
   * truncated when some did not (an answer the daemon could not send would reach no one).
   */
  public static ListResponse toProto(Listing listing, long maxBytes) {
    ListResponse.Builder b = ListResponse.newBuilder().setTruncated(listing.truncated());
    long size = LISTING_ENVELOPE;
    for (ObjectInfo o : listing.objects()) {
      ListEntry e = ListEntry.newBuilder().setMeta(toProto(o.meta())).addAllNames(o.names()).build();
      int n = e.getSerializedSize();
      size += n + 1 + com.google.protobuf.CodedOutputStream.computeUInt32SizeNoTag(n);
      if (size > maxBytes) {
        return b.setTruncated(true).build();
      }
      b.addEntries(e);
    }
    return b.build();
  }

  public static io.vineyard.proto.ipc.Placement toProto(Placement p) {
    return io.vineyard.proto.ipc.Placement.newBuilder()
        .setPath(p.path())
        .setId(p.id().value())
        .setTypename(p.typename())
        .setNbytes(p.nbytes())
        .setInstanceId(p.instanceId())
        .setHostname(p.hostname())
        .setRpcEndpoint(p.rpcEndpoint())
        .build();
  }

  public static StatsResponse toProto(StoreStats s) {
    return StatsResponse.newBuilder()
        .setInstanceId(s.instanceId())
        .setCapacityBytes(s.capacityBytes())
        .setUsedBytes(s.usedBytes())
        .setObjectCount(s.objectCount())
        .setBlobCount(s.blobCount())
        .setUnsealedBlobCount(s.unsealedBlobCount())
        .setPinnedBlobCount(s.pinnedBlobCount())
        .setClientCount(s.clientCount())
        .setNameCount(s.nameCount())
        .setHeapUsedBytes(s.heapUsedBytes())
        .setHeapMaxBytes(s.heapMaxBytes())
        .setLargestFreeBytes(s.largestFreeBytes())
        .setSpilledBytes(s.spilledBytes())
        .setSpilledBlobCount(s.spilledBlobCount())
        .setSpillWrites(s.spillWrites())
        .setReloads(s.reloads())
        .setDirectMemoryBytes(s.directMemoryBytes())
        .build();
  }
}
