package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
