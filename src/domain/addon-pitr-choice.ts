/**
 * Which base backup a restore to a time starts from (docs/stateful.md, point-in-time recovery).
 *
 * pgBackRest left to itself takes the newest backup that ended before the time, whatever its
 * timeline. After an in-place restore (a new timeline branching at the time restored to), a base
 * backup that ended between that time and the restore belongs to the branch the restore abandoned:
 * the new timeline forked before that backup's start, so a later restore starting from it fails
 * (pgBackRest error 058, "target timeline … forked from backup timeline … before backup lsn").
 * So each restore names the timeline to follow (the one the data it replaces, or the fork's
 * source, is on) and the backup, chosen here: the newest one that ended by the time (a second of
 * margin: pgBackRest stores the end in whole seconds) and lies on that timeline's history, that is
 * on the timeline itself or on an ancestor, ending at or before the point where the history left
 * that ancestor (read from the timeline's history file in the archive). When none ended by the time,
 * the oldest such backup (PostgreSQL then says whether the time can be reached from it). Nothing is
 * stored or removed: every restore chooses again, so a crash at any step leaves nothing to mend.
 *
 * A Perl program (perl-base and JSON::PP come with Debian's postgresql packages, in every add-on
 * image): `pgbackrest info --output=json` on stdin; arguments: the target as seconds since the epoch,
 * the timeline (a number), the archive's directory of the stanza (holding `<db-id>/<TLI>.history`).
 * Prints the chosen backup's label and its timeline, or nothing when no backup lies on the
 * timeline's history.
 * A constant program: no user data in it.
 */
export const CHOOSE_BACKUP = String.raw`
use strict;
use JSON::PP;
my ($target, $tl, $dir) = @ARGV;
my $info = decode_json(do { local $/; <STDIN> })->[0];
sub lsn { my ($hi, $lo) = split m{/}, $_[0]; return hex($hi) * 4294967296 + hex($lo); }
my %until = ($tl => -1);
for my $f (glob(sprintf("%s/*/%08X.history", $dir, $tl))) {
  open(my $h, "<", $f) or next;
  while (<$h>) { $until{$1} = lsn($2) if /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/; }
}
my (@usable, $best);
for my $b (@{ $info->{backup} || [] }) {
  my $end = $until{hex(substr($b->{archive}{start}, 0, 8))};
  next unless defined $end;
  next if $end >= 0 && !($b->{lsn} && $b->{lsn}{stop} && lsn($b->{lsn}{stop}) <= $end);
  push @usable, $b;
  $best = $b if $b->{timestamp}{stop} + 1 <= $target && (!$best || $b->{timestamp}{stop} >= $best->{timestamp}{stop});
}
($best) = sort { $a->{timestamp}{stop} <=> $b->{timestamp}{stop} } @usable unless $best;
print $best->{label}, " ", hex(substr($best->{archive}{start}, 0, 8)), "\n" if $best;
`;
