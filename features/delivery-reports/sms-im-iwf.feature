@sms-im-iwf
Feature: Delivery reports across SMS–IM interworking, the SUT as the interworking function
  Seed 001: when an SMS is delivered as IM, the SMS sender's delivery report
  must rest on the IM side's proof of receipt (the 200 to the MESSAGE), on
  its error responses, or on nothing at all — never on a 202, never before
  the answer, and without needing IMDN. The harness plays the SMSC (the SUT
  binds to it as an ESME, SMPP 3.4) and the IMS core with the recipients.
  The SUT acknowledges each deliver_sm with deliver_sm_resp once the IM
  outcome is known (3GPP TS 23.204 §6.14); a SUT that declares sme_ack also
  sends an SME delivery acknowledgement (submit_sm, esm_class 0x08) naming
  the message and its state, in its text (stat:) and in message_state
  alike. One SMS has one outcome: a second answer to the same deliver_sm,
  or a second acknowledgement, that says otherwise is a failure. "Never"
  is watched on the SUT's own timers, as its profile declares them. These
  scenarios share the harness SMSC and run side by side: each uses numbers
  of its own, and the harness routes by them.

  Background:
    Given the SUT plays the role "sms-im-iwf"
    And the SUT is bound to the harness SMSC

  @DR-21
  Scenario: An SMS the IM recipient answers 200 is acknowledged only after the 200
    Given the IM recipient will answer MESSAGE with 200
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the IM recipient receives the SMS text as a MESSAGE
    And the SUT acknowledges the SMS with ESME_ROK only after the recipient answered

  @DR-21 @if:iwf_sip_tls
  Scenario: An SMS sent as IM over TLS is acknowledged only after the 200 that came back over TLS
    # The SUT is configured with the core's SIP-over-TLS address
    # (iwf.ims_core_tls, and iwf.tls_prefix when only some numbers go
    # there) and the run's lab CA: the MESSAGE must arrive inside TLS
    # (RFC 3261 §26.2, RFC 5630 §3), and the 200 the SUT's report rests on
    # goes back over that connection. Its TLS records are in the run-level
    # pcap (run-level-iwf.pcap), with the secrets that decrypt them.
    Given the IM recipient behind the IMS core's TLS address will answer MESSAGE with 200
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the IM recipient receives the SMS text as a MESSAGE over TLS
    And the SUT acknowledges the SMS with ESME_ROK only after the recipient answered

  @DR-21
  Scenario: An SMS in the GSM 7-bit alphabet reaches the IM recipient as the same text in UTF-8
    # data_coding 0 with @ £ ¥ è and the extension table's € and { (3GPP TS
    # 23.038 §6.2.1): their septets are not their ASCII or Latin-1 octets. The
    # 200 proves receipt only of what the MESSAGE carried, so it must carry
    # the SMS's text, in UTF-8 with the charset declared.
    Given the IM recipient will answer MESSAGE with 200
    When the SMSC delivers an SMS for the IM recipient in the GSM 7-bit alphabet, with characters whose septets differ from ASCII and Latin-1
    Then the IM recipient receives the SMS text as a MESSAGE
    And the SUT acknowledges the SMS with ESME_ROK only after the recipient answered

  @DR-21
  Scenario: An SMS in UCS-2 reaches the IM recipient as the same text in UTF-8
    # data_coding 8 (UCS-2, TS 23.038 §6.2.3) with Greek, Cyrillic and CJK
    # letters and the euro sign, none of them in Latin-1.
    Given the IM recipient will answer MESSAGE with 200
    When the SMSC delivers an SMS for the IM recipient in UCS-2, with characters outside Latin-1
    Then the IM recipient receives the SMS text as a MESSAGE
    And the SUT acknowledges the SMS with ESME_ROK only after the recipient answered

  @DR-21 @if:sme_ack
  Scenario: An SMS the IM recipient answers 200 is reported DELIVRD only after the 200
    Given the IM recipient will answer MESSAGE with 200
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the SUT reports the SMS as DELIVRD only after the recipient answered, naming the message it acknowledged

  @DR-21 @if:sme_ack
  Scenario: A 202 Accepted from a store is not reported as delivered
    Given the IM recipient will answer MESSAGE with 202
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the SUT never reports the SMS as DELIVRD

  @DR-21 @if:sme_ack
  Scenario: With many SMS in flight, each is reported by its own outcome and names its own message
    Given 10 IM recipients answering MESSAGE with 200 and 486 in turn
    When the SMSC delivers an SMS for each of them asking for a delivery report
    Then each SMS is reported by its own outcome, naming its own message

  @DR-22
  Scenario Outline: An IM error response is not acknowledged as a delivery
    Given the IM recipient will answer MESSAGE with <status>
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the SUT does not acknowledge the SMS with ESME_ROK
    And the SUT never reports the SMS as DELIVRD

    Examples:
      | status |
      | 486    |
      | 404    |
      | 603    |

  @DR-22 @if:sme_ack
  Scenario: An IM error response is reported as not delivered
    Given the IM recipient will answer MESSAGE with 486
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the SUT reports the SMS as not delivered

  @DR-23
  Scenario: A recipient that never answers is never reported as delivered
    Given the IM recipient will not answer MESSAGE
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the SUT does not acknowledge the SMS with ESME_ROK
    And the SUT never reports the SMS as DELIVRD

  @DR-24 @if:sme_ack
  Scenario: No IMDN is needed to report a delivered SMS
    Given the IM recipient will answer MESSAGE with 200
    When the SMSC delivers an SMS for the IM recipient asking for a delivery report
    Then the SUT reports the SMS as DELIVRD within 2 seconds of the recipient's 200, with no IMDN

  @DR-21 @if:sme_ack @if:iwf_msrp
  Scenario: A long SMS sent as a Large Message is reported DELIVRD only after the 200 to the last chunk
    Given the IM recipient takes Large Messages and answers every chunk with 200
    When the SMSC delivers a 4000-byte SMS for the IM recipient asking for a delivery report
    Then the IM recipient receives the SMS as MSRP chunks
    And the SUT reports the SMS as DELIVRD only after the 200 to the last chunk

  @DR-21 @if:sme_ack @if:iwf_msrp
  Scenario: 200s to earlier chunks of a Large Message are not proof of receipt
    Given the IM recipient takes Large Messages, answers '+' chunks with 200 and never the last chunk
    When the SMSC delivers a 4000-byte SMS for the IM recipient asking for a delivery report
    Then the IM recipient receives the SMS as MSRP chunks
    And the SUT never reports the SMS as DELIVRD

  @DR-22 @if:sme_ack @if:iwf_msrp
  Scenario: An error to the last chunk of a Large Message is reported as not delivered
    Given the IM recipient takes Large Messages, answers '+' chunks with 200 and the last chunk with 415
    When the SMSC delivers a 4000-byte SMS for the IM recipient asking for a delivery report
    Then the IM recipient receives the SMS as MSRP chunks
    And the SUT reports the SMS as not delivered

  @DR-22 @if:sme_ack @if:iwf_msrp
  Scenario: A failure REPORT for a Large Message is reported as not delivered
    Given the IM recipient takes Large Messages, answers '+' chunks with 200 and the last chunk with a failure REPORT 415
    When the SMSC delivers a 4000-byte SMS for the IM recipient asking for a delivery report
    Then the IM recipient receives the SMS as MSRP chunks
    And the SUT reports the SMS as not delivered

  @DR-25 @if:iwf_msrp @if:msrp_tls
  Scenario: A long SMS offered as a Large Message over TLS is sent over TLS only
    Given the IM recipient takes Large Messages and answers every chunk with 200
    When the SMSC delivers a 4000-byte SMS for the IM recipient asking for a delivery report
    Then the SUT offers the Large Message over TLS and sends its chunks over TLS only
