package dev.gantry.gateway;

import org.springframework.context.annotation.Import;

/** The gateway and infra beans, with a fake orchestrator in place of Temporal. */
@GatewayTestBeans
@Import(FakeOrchestrator.class)
class GatewayTestApplication {}
