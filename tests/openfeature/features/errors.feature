Feature: Errors and the default value
  When a flag cannot be resolved the provider says why with an error code
  (and a message), the evaluation reports the reason ERROR and no variant,
  and the caller gets the default value it passed. A flag that does not exist
  is FLAG_NOT_FOUND; a flag whose value is not of the type asked for is
  TYPE_MISMATCH; a context the provider cannot read is INVALID_CONTEXT.
  (OpenFeature specification: flag value resolution, evaluation details on
  abnormal execution, error codes.)

  Background:
    Given the flags:
      """
      environments: [production]
      flags:
        checkout:
          fallthrough: "on"
        greeting:
          variations: {en: hello}
          off_variation: en
          fallthrough: en
        max-items:
          variations: {few: 10}
          off_variation: few
          fallthrough: few
        layout:
          variations: {grid: {columns: 3}}
          off_variation: grid
          fallthrough: grid
      """
    And a provider serving the published flags

  Scenario Outline: A missing <type> flag is FLAG_NOT_FOUND with the default value
    When the <type> flag "no-such-flag" is evaluated with default <default> and context {"targetingKey": "user-1"}
    Then the value is <default>
    And the reason is ERROR
    And the error code is FLAG_NOT_FOUND
    And the error message contains "no-such-flag"
    And there is no variant

    Examples:
      | type    | default             |
      | boolean | true                |
      | string  | "fallback"          |
      | integer | 42                  |
      | float   | 2.5                 |
      | object  | {"fallback": [1, 2]} |

  Scenario Outline: A <found> flag resolved as <type> is TYPE_MISMATCH with the default value
    When the <type> flag "<flag>" is evaluated with default <default> and context {"targetingKey": "user-1"}
    Then the value is <default>
    And the reason is ERROR
    And the error code is TYPE_MISMATCH
    And the error message contains "<flag>"
    And there is no variant

    Examples:
      | type    | flag      | found   | default          |
      | boolean | max-items | number  | false            |
      | boolean | greeting  | string  | false            |
      | string  | checkout  | boolean | "fallback"       |
      | integer | greeting  | string  | 7                |
      | float   | layout    | object  | 0.5              |
      | object  | checkout  | boolean | {"fallback": true} |
      | object  | max-items | number  | {"fallback": true} |

  Scenario: A context the provider cannot read is INVALID_CONTEXT with the default value
    When the boolean flag "checkout" is evaluated with default false and context {"targetingKey": "user-1", "answers": [true, false]}
    Then the value is false
    And the reason is ERROR
    And the error code is INVALID_CONTEXT
    And the error message contains "answers"
    And there is no variant

  Scenario: An error leaves the next resolution unaffected
    When the boolean flag "no-such-flag" is evaluated with default false and context {"targetingKey": "user-1"}
    And the boolean flag "checkout" is evaluated with default false and context {"targetingKey": "user-1"}
    Then the value is true
    And the reason is DEFAULT
    And there is no error code
