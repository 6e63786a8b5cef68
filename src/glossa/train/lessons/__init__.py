"""Small, fast lessons over the training code (§11–13): each builds a problem small enough to run in a
second or two on a CPU and returns numbers that show one idea; `glossa.cli.lessons` prints them."""
