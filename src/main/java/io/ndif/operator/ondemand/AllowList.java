package io.ndif.operator.ondemand;

import io.ndif.operator.api.OnDemandModelSpec;
import io.ndif.operator.api.OnDemandSpec;
import java.util.Optional;
import java.util.regex.Pattern;

/** Which repository ids an NdifCluster deploys on demand, with the entry that sizes each. */
public final class AllowList {
  private AllowList() {}

  /** The first entry whose id or pattern matches, as the gateway matches them. */
  public static Optional<OnDemandModelSpec> match(OnDemandSpec spec, String repoId) {
    if (spec == null || spec.models == null || repoId == null) {
      return Optional.empty();
    }
    return spec.models.stream().filter(m -> matches(m.repoId, repoId)).findFirst();
  }

  /** Shell-style: * is any run of characters but /, ? one character but /. */
  static boolean matches(String pattern, String repoId) {
    StringBuilder regex = new StringBuilder();
    for (char c : pattern.toCharArray()) {
      switch (c) {
        case '*' -> regex.append("[^/]*");
        case '?' -> regex.append("[^/]");
        default -> regex.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.matches(regex.toString(), repoId);
  }
}
