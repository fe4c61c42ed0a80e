Feature: Resolution reasons
  The reason says why a value was chosen: a rule or an individual target is
  TARGETING_MATCH, a percentage rollout is SPLIT, a disabled flag is DISABLED,
  and a value that no targeting chose (the fallthrough, a failed prerequisite,
  a rollout with nothing to hash) is DEFAULT. edgeflag maps its own reasons
  to these in one place (tests/vectors/openfeature.json), and keeps its own
  reason in the flag metadata "reason". STATIC is not among them: every
  edgeflag flag is evaluated against the context.

  Background:
    Given the flags:
      """
      environments: [production]
      flags:
        kill:
          enabled: false
        gated:
          prerequisites: [{flag: kill, variations: ["on"]}]
        checkout:
          targets:
            "off": [user-666]
          rules:
            - id: staff
              clauses: [{attribute: email, op: ends_with, values: ["@edgeflag.dev"]}]
              serve: "on"
            - id: beta
              clauses: [{attribute: groups, op: in, values: [beta]}]
              serve: {rollout: {"on": 100, "off": 0}}
          fallthrough: "off"
        everyone:
          fallthrough: {rollout: {"on": 100, "off": 0}}
      """
    And a provider serving the published flags

  Scenario Outline: <edgeflag reason> is <reason>
    When the boolean flag "<flag>" is evaluated with default <default> and context <context>
    Then the value is <value>
    And the variant is "<variant>"
    And the reason is <reason>
    And there is no error code
    And the flag metadata "reason" is "<edgeflag reason>"

    Examples:
      | flag     | context                                                   | default | value | variant | reason          | edgeflag reason     |
      | kill     | {"targetingKey": "user-1"}                                | true    | false | off     | DISABLED        | OFF                 |
      | gated    | {"targetingKey": "user-1"}                                | true    | false | off     | DEFAULT         | PREREQUISITE_FAILED |
      | checkout | {"targetingKey": "user-666", "email": "x@edgeflag.dev"}   | true    | false | off     | TARGETING_MATCH | TARGET_MATCH        |
      | checkout | {"targetingKey": "user-1", "email": "bo@edgeflag.dev"}    | false   | true  | on      | TARGETING_MATCH | RULE_MATCH          |
      | checkout | {"targetingKey": "user-1", "groups": "beta"}              | false   | true  | on      | SPLIT           | RULE_MATCH          |
      | checkout | {"targetingKey": "user-1"}                                | true    | false | off     | DEFAULT         | FALLTHROUGH         |
      | everyone | {"targetingKey": "user-1"}                                | false   | true  | on      | SPLIT           | FALLTHROUGH         |
      | everyone | {"plan": "free"}                                          | true    | false | off     | DEFAULT         | DEFAULT             |

  Scenario: A failed prerequisite is named in the metadata
    When the boolean flag "gated" is evaluated with default true and context {"targetingKey": "user-1"}
    Then the reason is DEFAULT
    And the flag metadata "prerequisite" is "kill"
