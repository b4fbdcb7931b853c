/* backplane SDK umbrella header. */
#ifndef BACKPLANE_BACKPLANE_H
#define BACKPLANE_BACKPLANE_H
#include <backplane/status.h>
#include <backplane/envelope.h>
#include <backplane/predicate.h>
#include <backplane/plugin.h>
#include <backplane/flags.h>
#endif
