/*  gateway_agents: stub, replaced by the real routes. */
#include "gateway_internal.h"

void
gateway_agents_handle (gw_thread_t *t, gateway_req_t *req, gateway_handler_t handler,
                     const gateway_params_t *params)
{
    gateway_reply_error (req, 501, "not_implemented", "not implemented yet");
}
