/* The system SQLite (Debian's libsqlite3-dev), for kinsta-opsd-floor-nofoundation only: the store goes through GRDB. */
#include <sqlite3.h>
