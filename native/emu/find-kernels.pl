#!/usr/bin/env perl
# Lists the kernels a .cu file defines, one per line: "NAME<TAB>MAX_THREADS_EXPRESSION", for
# build-emulator.sh to register them. Every __global__ function must be written
#   extern "C" __global__ void [__launch_bounds__(N[, M])] NAME(params...)
# (the form the driver API finds by name), and only static __shared__ memory is supported; anything
# else is an error that names the file and line.
#   usage: find-kernels.pl FILE.cu
use strict;
use warnings;

my $file = shift or die "usage: find-kernels.pl FILE.cu\n";
open(my $in, '<', $file) or die "$file: $!\n";
my $source = do { local $/; <$in> };
close($in);

# Blank out comments (keeping newlines, so line numbers stay right). String literals in kernels do
# not contain comment markers in practice; a miscount here only produces a compile error later.
$source =~ s{(/\*.*?\*/)}{ my $c = $1; $c =~ s/[^\n]/ /g; $c }gse;
$source =~ s{//[^\n]*}{}g;

sub line_of { my ($pos) = @_; return 1 + (substr($source, 0, $pos) =~ tr/\n//); }

my $errors = 0;
while ($source =~ /\bextern\s+__shared__\b/g) {
  printf STDERR "%s:%d: error: dynamic shared memory (extern __shared__) is not supported by the CPU emulator; "
    . "use a static __shared__ array\n", $file, line_of($-[0]);
  $errors++;
}

my $balanced = qr/(\((?:[^()]++|(?-1))*\))/;
my %seen;
while ($source =~ /\b__global__\b/g) {
  my $at = $-[0];
  my $head = substr($source, 0, $at);
  my $rest = substr($source, $at);
  if ($head !~ /\bextern\s+"C"\s*$/s) {
    printf STDERR "%s:%d: error: a kernel must be declared extern \"C\" __global__ void NAME(...) "
      . "(its name is looked up in the module image)\n", $file, line_of($at);
    $errors++;
    next;
  }
  if ($rest !~ /^__global__\s+(?:__launch_bounds__\s*$balanced\s*)?void\s+(?:__launch_bounds__\s*$balanced\s*)?([A-Za-z_]\w*)\s*\(/s) {
    printf STDERR "%s:%d: error: cannot read this kernel declaration; write extern \"C\" __global__ void "
      . "[__launch_bounds__(N)] NAME(params...)\n", $file, line_of($at);
    $errors++;
    next;
  }
  my ($bounds, $name) = ($1 // $2, $3);
  next if $seen{$name}++;  # a declaration followed by the definition
  my $max_threads = defined $bounds ? "::elbo4j_emu::first_launch_bound$bounds" : "1024";
  $max_threads =~ s/\s+/ /g;
  print "$name\t$max_threads\n";
}
exit($errors ? 1 : 0);
