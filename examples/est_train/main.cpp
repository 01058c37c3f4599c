// est-train: trains a GPT-2 or Llama model with or without evolving subnetwork training.
//
//   est-train                                 baseline and EST on the default corpus, compared
//   est-train --schedule est --data book.txt  one EST run on any text (or token file)
//   est-train --help                          every option
//
// With no arguments it trains the `mini` preset (3.3M parameters, byte-level) twice on the
// fortune-cookie corpus of Debian's `fortunes` package — once the full model at every step, once
// with EST's three-stage schedule — and prints the two side by side: final validation loss,
// training FLOPs and wall-clock time. The program itself is est_train::run_program
// (program.hpp), which programs of your own can call with sampling policies of their own.

#include "program.hpp"

int main(int argc, char** argv) { return est_train::run_program(argc, argv); }
