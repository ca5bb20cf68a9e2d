# SIGKILL at random moments during checkpointing Lanczos and SLQ runs, then resume: never a
# corrupt checkpoint or output, always the uninterrupted run's bits. The short version of
# tests/kill_resume.sh (3 kills per solver); run that script for the full loop.
: "${HESSE:?HESSE must name the hesse binary}"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
exec sh "$HESSE_SOURCE/tests/kill_resume.sh" 3
