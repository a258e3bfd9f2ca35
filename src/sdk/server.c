/* placeholder */
#include <mpp/mpp-plugin.h>
