package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ScheduleSpec {
  @JsonPropertyDescription(
      "IANA time zone the windows are written in, e.g. Europe/Berlin; daylight-saving changes"
          + " follow it.")
  @Default("UTC")
  @Size(max = 64)
  public String timeZone;

  @JsonPropertyDescription(
      "Windows during which the deployment is pinned (never evicted) and optionally raised in"
          + " priority; outside them it is an ordinary deployment.")
  @Required
  @Size(min = 1, max = 32)
  public List<ScheduleWindowSpec> windows;
}
