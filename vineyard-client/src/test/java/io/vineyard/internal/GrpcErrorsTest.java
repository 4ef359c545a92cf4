package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vineyard.ErrorCode;
import io.vineyard.VineyardException;
import org.junit.jupiter.api.Test;

class GrpcErrorsTest {

  @Test
  void everyCodeRoundTripsThroughAStatus() {
    for (ErrorCode code : ErrorCode.values()) {
      var status = GrpcErrors.toStatus(new VineyardException(code, "what went wrong"));
      assertEquals(GrpcErrors.statusCode(code), status.getStatus().getCode());
      // What a client sees: the status as a runtime exception, trailers included.
      VineyardException back =
          GrpcErrors.fromStatus(new StatusRuntimeException(status.getStatus(), status.getTrailers()));
      assertEquals(code, back.code());
      assertEquals("what went wrong", back.reason());
    }
  }

  @Test
  void statusCodesFollowTheMeaning() {
    assertEquals(Status.Code.NOT_FOUND, GrpcErrors.statusCode(ErrorCode.NOT_FOUND));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, GrpcErrors.statusCode(ErrorCode.OUT_OF_MEMORY));
    assertEquals(Status.Code.FAILED_PRECONDITION, GrpcErrors.statusCode(ErrorCode.NOT_SEALED));
    assertEquals(Status.Code.UNAVAILABLE, GrpcErrors.statusCode(ErrorCode.UNAVAILABLE));
  }

  @Test
  void aStatusWithoutTheTrailerIsMappedByItsCode() {
    assertEquals(ErrorCode.UNAVAILABLE,
        GrpcErrors.fromStatus(Status.UNAVAILABLE.withDescription("io exception").asRuntimeException()).code());
    assertEquals(ErrorCode.UNAVAILABLE, GrpcErrors.fromStatus(Status.DEADLINE_EXCEEDED.asRuntimeException()).code());
    assertEquals(ErrorCode.NOT_FOUND, GrpcErrors.fromStatus(Status.NOT_FOUND.asRuntimeException()).code());
    assertEquals(ErrorCode.INTERNAL, GrpcErrors.fromStatus(Status.UNKNOWN.asRuntimeException()).code());
    assertEquals("DEADLINE_EXCEEDED", GrpcErrors.fromStatus(Status.DEADLINE_EXCEEDED.asRuntimeException()).reason());
  }

  /** A status description travels percent-encoded in HTTP/2 headers, which clients cap at 8 KiB. */
  @Test
  void longDescriptionsAreCutToFitTheHeaders() {
    String ascii = "x".repeat(9000);
    String wide = "\u4e2d".repeat(9000); // 9 bytes each once percent-encoded
    for (String text : new String[] {ascii, wide, "%".repeat(9000), "\uD83D\uDE00".repeat(3000)}) {
      String d = GrpcErrors.toStatus(new VineyardException(ErrorCode.NOT_FOUND, text)).getStatus().getDescription();
      assertTrue(encodedLength(d) <= GrpcErrors.MAX_DESCRIPTION_BYTES, encodedLength(d) + " bytes");
      assertTrue(d.endsWith("characters)"), d.substring(d.length() - 30));
      assertFalse(Character.isHighSurrogate(d.charAt(d.indexOf("...") - 1)), "never half a pair");
    }
    assertEquals("short", GrpcErrors.shorten("short", 100));
  }

  private static int encodedLength(String s) {
    int n = 0;
    for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      n += b >= 0x20 && b < 0x7f && b != '%' ? 1 : 3;
    }
    return n;
  }
}
