package io.vineyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectMeta;
import io.vineyard.VineyardException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Text UTF-8 cannot carry is refused before it is sent: a lone surrogate reached the daemon as '?'. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class ProtosTextTest {

  @Test
  void loneSurrogatesAreRefusedAndPairsPass() {
    Protos.checkText(ObjectMeta.builder("t::\uD83D\uDE00").field("emoji", "x\uD83D\uDE00y").field("é", "名前").build());
    for (ObjectMeta bad : new ObjectMeta[] {
        ObjectMeta.builder("t::T").field("f", "\uD800x").build(),
        ObjectMeta.builder("t::T").field("f", "x\uDC00").build(),
        ObjectMeta.builder("t::\uD800").build(),
        ObjectMeta.builder("t::T").field("k\uDFFF", 1L).build(),
    }) {
      VineyardException e = assertThrows(VineyardException.class, () -> Protos.checkText(bad));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("lone surrogate"), e.getMessage());
    }
  }
}
