/* Fixture: a shared object that is not a plugin (no bp_plugin_entry). */
#include <backplane/plugin.h>

BP_EXPORT int fx_no_symbol_something_else(void);
BP_EXPORT int fx_no_symbol_something_else(void) { return 42; }
