// bfloat16 master weights cannot hold a training step's small updates.
#include <est/core/dtype.hpp>

using Bad = est::Precision<est::bfloat16, est::bfloat16, float, est::bfloat16>;
static_assert(Bad::uniform == false);
