package io.vineyard.cli;

import io.vineyard.ErrorCode;
import io.vineyard.ObjectId;
import io.vineyard.VineyardException;
import io.vineyard.client.IpcClient;
import io.vineyard.client.Listing;
import io.vineyard.client.ObjectInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "gc",
    mixinStandardHelpOptions = true,
    description = {
      "Deletes the local objects that nobody can reach any more: no name is bound to them, no other object has them as"
          + " a member, they are not persisted, and they are older than --older-than. Their members go with them unless"
          + " another object uses them. Prints the ids deleted, or with --dry-run the objects it would delete.",
      "Such objects are what a crashed writer (a table put killed halfway) or an 'rm --keep-members' leaves behind."
    },
    footer = {
      "",
      "Examples:",
      "  vineyardctl gc --older-than 1h --dry-run",
      "  vineyardctl gc --older-than 10m",
      ""
    })
final class GcCommand extends ClientCommand {

  private static final Pattern AGE = Pattern.compile("(\\d+)(s|m|h|d)");

  /** The longest age accepted: a century. */
  static final Duration MAX_AGE = Duration.ofDays(36_500);

  @Option(names = "--older-than", paramLabel = "AGE", required = true, converter = Age.class,
      description = "Only objects created longer ago than this: a number and s, m, h or d (30s, 10m, 1h, 2d; 0s for any).")
  Duration olderThan;

  @Option(names = "--dry-run", description = "Print what would be deleted, and delete nothing.")
  boolean dryRun;

  @Override
  protected boolean needsBlobs() {
    return false;
  }

  @Override
  protected int run(IpcClient client) {
    Instant cutoff = Instant.now().minus(olderThan);
    Listing listing = client.listObjects(null, 0, false);
    if (listing.truncated()) {
      // Parents beyond the listing could make listed objects look unreferenced.
      throw new VineyardException(ErrorCode.INVALID_ARGUMENT,
          "the daemon holds more objects than one listing returns (its --list-limit); gc cannot tell which are unreferenced");
    }
    Set<ObjectId> members = LsCommand.memberIds(listing.objects());
    // Other instances may use what this one persisted (and its names resolve there): kept.
    List<ObjectInfo> published = client.listObjects(null, 0, true).objects();
    Set<ObjectId> persisted = new HashSet<>(LsCommand.memberIds(published));
    published.forEach(o -> persisted.add(o.meta().id()));
    List<ObjectInfo> garbage = listing.objects().stream()
        .filter(o -> o.names().isEmpty())
        .filter(o -> !members.contains(o.meta().id()) && !persisted.contains(o.meta().id()) && !o.meta().isGlobal())
        .filter(o -> o.meta().id().mintedAt().isBefore(cutoff))
        .toList();
    List<ObjectId> ids = garbage.stream().map(o -> o.meta().id()).toList();
    List<ObjectId> deleted = dryRun || ids.isEmpty() ? ids : client.delete(ids, false, true);
    if (root.json()) {
      root.out.println("{\"deleted\": " + Json.strings(deleted.stream().map(ObjectId::toString).toList())
          + ", \"dry_run\": " + dryRun + "}");
    } else {
      deleted.forEach(root.out::println);
    }
    return ExitCodes.OK;
  }

  /** {@code 30s}, {@code 10m}, {@code 1h}, {@code 2d}: read while parsing, so a bad one is a usage error. */
  static final class Age implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String text) {
      Matcher m = AGE.matcher(text.strip().toLowerCase(Locale.ROOT));
      if (!m.matches()) {
        throw new CommandLine.TypeConversionException(
            "'" + text + "' is not an age: give a number and a unit, s, m, h or d (such as 30s, 10m, 1h, 2d)");
      }
      Duration unit = switch (m.group(2)) {
        case "s" -> Duration.ofSeconds(1);
        case "m" -> Duration.ofMinutes(1);
        case "h" -> Duration.ofHours(1);
        default -> Duration.ofDays(1);
      };
      // Object ids carry their creation time since 2020 or so: an age beyond a century selects the
      // same as a century, and larger numbers would overflow the clock arithmetic.
      long most = MAX_AGE.dividedBy(unit);
      String digits = m.group(1).replaceFirst("^0+(?=\\d)", ""); // 007d is 7d
      if (digits.length() > 18 || Long.parseLong(digits) > most) {
        throw new CommandLine.TypeConversionException(
            "'" + text + "' is too long an age: at most " + most + m.group(2) + " (" + MAX_AGE.toDays() + " days)");
      }
      return unit.multipliedBy(Long.parseLong(digits));
    }
  }
}
