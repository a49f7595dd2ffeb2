#!/usr/bin/env perl
# bench/read-allocated.pl IMG — reads only the allocated extents of a sparse file (SEEK_DATA /
# SEEK_HOLE, 4 MiB reads) and prints the bytes read: the limits step times it on a cold page
# cache as the cold read of the allocated data.
use strict; use warnings;
my ($path) = @ARGV;
open(my $fh, '<:raw', $path) or die "$path: $!";
my $size = -s $fh; my ($off, $total, $buf) = (0, 0, '');
while ($off < $size) {
  my $d = sysseek($fh, $off, 3); last unless defined $d; $d = 0 + $d;
  my $h = sysseek($fh, $d, 4); $h = defined $h ? 0 + $h : $size;
  sysseek($fh, $d, 0);
  my $left = $h - $d;
  while ($left > 0) { my $n = sysread($fh, $buf, $left < 4194304 ? $left : 4194304); die "read: $!" unless $n; $left -= $n; $total += $n; }
  $off = $h;
}
print "$total\n";
