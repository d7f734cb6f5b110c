#!/usr/bin/env perl
# Fails when the PTX of the kernels contains approximate or flush-to-zero floating point that the source
# did not ask for: what nvcc's fast-math options (-use_fast_math, -ftz=true, -prec-div=false,
# -prec-sqrt=false) or fast intrinsics (__expf, __fdividef, ...) produce. They cannot be detected in the
# source (nvcc defines no macro for them in the device pass), and the emulator, which computes each
# operation correctly rounded, would not show their error. native/build-kernels.sh runs this on the PTX
# of every architecture it builds.
#
# Forbidden: every instruction with an .approx, .full or .ftz modifier (rcp.approx, div.approx, div.full,
# sqrt.approx, ex2.approx, lg2.approx, sin/cos/tanh.approx, mul.ftz, add.ftz, fma.rn.ftz, setp.*.ftz,
# cvt.ftz, ...), except the two uses that the CUDA math library makes today inside expf (documented at up
# to 2 ulp) and double log/log1p (1 ulp) (nvcc 13.0, -O3, no fast-math option), each recognized by what
# surrounds it:
#   1. expf: ex2.approx.ftz.f32 of a range-reduced argument, i.e. of the result of an fma.rn.f32 that
#      multiplies by the low half of log2(e), 0f32A57060, or by its negation 0fB2A57060 (for exp(-x)),
#      as a literal or through a mov.f32 register;
#   2. log and log1p in double: rcp.approx.ftz.f64 refined by Newton steps, i.e. a reciprocal that an
#      fma.rn.f64 among the next three instructions reads.
# Anything else, including these instructions in another context, is reported with its file, line and
# function.
#   usage: check-ptx.pl FILE.ptx...
use strict;
use warnings;

my %log2e_low = map { $_ => 1 } qw(0f32A57060 0fB2A57060);
my $violations = 0;
my %allowed = (expf => 0, double_log => 0);

die "usage: check-ptx.pl FILE.ptx...\n" unless @ARGV;
for my $file (@ARGV) {
  open(my $in, '<', $file) or die "$file: $!\n";
  my @lines = <$in>;
  close($in);
  my $function = '(file scope)';
  my %log2e_low_register;  # f32 registers holding +-log2(e)'s low half
  my %expf_reduced;        # f32 registers holding an expf range-reduced argument
  # Instructions only: [line number, opcode, operands].
  my @instructions;
  for my $n (0 .. $#lines) {
    my $line = $lines[$n];
    $line =~ s{//.*}{};
    if ($line =~ /\.(?:entry|func)\s+(?:\([^)]*\)\s*)?([A-Za-z_\$][\w\$]*)/) {
      $function = $1;
      %log2e_low_register = ();
      %expf_reduced = ();
    }
    next unless $line =~ /^\s*(?:\@!?%\w+\s+)?([a-z][\w.]*)\s+([^;]*);/;
    push @instructions, [$n + 1, $1, $2, $function];
  }
  for my $i (0 .. $#instructions) {
    my ($line, $opcode, $operands, $in_function) = @{$instructions[$i]};
    my @args = map { s/^\s+|\s+$//gr } split /,/, $operands;
    # The destination (first operand) holds something new, unless the two rules below say what.
    my $reduces = $opcode eq 'fma.rn.f32' && @args == 4
      && grep { $log2e_low{$_} || $log2e_low_register{$_} } @args[1 .. 3];
    my $loads_constant = $opcode eq 'mov.f32' && @args == 2 && $log2e_low{$args[1]};
    if (@args && $args[0] =~ /^%/) {
      delete $log2e_low_register{$args[0]};
      delete $expf_reduced{$args[0]};
    }
    $log2e_low_register{$args[0]} = 1 if $loads_constant;
    $expf_reduced{$args[0]} = 1 if $reduces;
    next unless $opcode =~ /\.(?:approx|full|ftz)\b/;
    if ($opcode eq 'ex2.approx.ftz.f32' && @args == 2 && $expf_reduced{$args[1]}) {
      $allowed{expf}++;
      next;
    }
    if ($opcode eq 'rcp.approx.ftz.f64' && @args == 2) {
      my $reciprocal = $args[0];
      my $last = $i + 3 < $#instructions ? $i + 3 : $#instructions;
      my $refined = grep {
        my (undef, $next_opcode, $next_operands) = @{$instructions[$_]};
        $next_opcode eq 'fma.rn.f64' && grep { s/^\s+|\s+$//gr eq $reciprocal } (split /,/, $next_operands)[1 .. 3];
      } $i + 1 .. $last;
      if ($refined) {
        $allowed{double_log}++;
        next;
      }
    }
    printf STDERR "%s:%d: in %s: %s %s: approximate or flush-to-zero arithmetic (a fast-math option or "
      . "intrinsic?)\n", $file, $line, $in_function, $opcode, $operands;
    $violations++;
  }
}
if ($violations) {
  print STDERR "[elbo4j] ERROR: $violations approximate or flush-to-zero instruction(s) in the PTX above; the "
    . "kernels must compute as the emulator and the reference do (native/check-ptx.pl lists what is allowed)\n";
  exit 1;
}
printf "[elbo4j] PTX check: no fast-math arithmetic in %d file(s) (allowed: %d ex2.approx.ftz.f32 in expf, "
  . "%d rcp.approx.ftz.f64 refined in double log)\n", scalar(@ARGV), $allowed{expf}, $allowed{double_log};
exit 0;
