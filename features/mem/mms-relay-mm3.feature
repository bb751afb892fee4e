# MEM outband notification through an MMS relay (seed 004 §6.2.1): the
# harness is the MEM server on the relay's MM3 interface (SMTP client,
# mms_relay.mm3), sending a notification — `Applic-ID: MEM`, an OMA EMN
# payload in the body — to an MSISDN user's mail address
# (+number/TYPE=PLMN@mms_relay.mm3_domain). Through the mms-relay steps it is
# also the terminal the relay pushes to (the SMSC) and the MMS client that
# retrieves the MM by HTTP GET and answers M-NotifyResp.ind. The bearers are
# shared by the run and serve the scenarios side by side: each recipient has
# a fresh number, and each scenario judges only the pushes to its own.
@mms-relay @if:mms_mm3 @if:mms_notify_sms
Feature: An MMS relay maps a MEM server's SMTP notification to an MM for the MEM application

  @MEM-6
  Scenario: Applic-ID MEM becomes X-Mms-Applic-ID MEM (0xB7) in the notification and the retrieved MM
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM"
    Then the relay accepts the message with 250 after its content
    And the recipient's notification carries X-Mms-Applic-ID "MEM" as field 0xB7 Text-string
    When the recipient retrieves the MM
    Then the retrieved MM carries X-Mms-Applic-ID "MEM" as field 0xB7 Text-string

  @MEM-7
  Scenario: The MM4 spelling X-Mms-Applic-ID in the SMTP message is mapped the same way
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "X-Mms-Applic-ID: MEM"
    Then the relay accepts the message with 250 after its content
    And the recipient's notification carries X-Mms-Applic-ID "MEM" as field 0xB7 Text-string
    When the recipient retrieves the MM
    Then the retrieved MM carries X-Mms-Applic-ID "MEM" as field 0xB7 Text-string

  @MEM-8
  Scenario: The notification MM is delivered by WAP Push and retrieved by HTTP GET
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM"
    Then the relay accepts the message with 250 after its content
    And the recipient's notification is a WSP push over SMS to port 2948 for mms.ua, content type application/vnd.wap.mms-message
    When the recipient retrieves the MM
    Then the recipient's retrieval and its M-NotifyResp.ind were answered

  @MEM-11
  Scenario: The retrieved MM's content is the SMTP body byte for byte, with its content type
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM"
    Then the relay accepts the message with 250 after its content
    When the recipient retrieves the MM
    Then the retrieved MM's content is the message body byte for byte, with its content type

  @MEM-5
  Scenario: From, To, Subject and Date of the SMTP message carry over into the MM
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM"
    Then the relay accepts the message with 250 after its content
    When the recipient retrieves the MM
    Then the retrieved MM maps From, To, Subject and Date from the message

  @MEM-12
  Scenario: The SMTP Message-ID becomes the MM's Message-ID
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM"
    Then the relay accepts the message with 250 after its content
    When the recipient retrieves the MM
    Then the retrieved MM's Message-ID is the message's

  @MEM-13
  Scenario: Reply-Applic-ID and Aux-Applic-Info are carried when present
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM", "Reply-Applic-ID: mem.reply.liaison" and "Aux-Applic-Info: liaison-aux-1"
    Then the relay accepts the message with 250 after its content
    And the recipient receives a notification
    When the recipient retrieves the MM
    Then the notification and the retrieved MM carry X-Mms-Reply-Applic-ID and X-Mms-Aux-Applic-Info as sent

  @MEM-14
  Scenario: A plain SMTP message becomes an ordinary MM, with no X-Mms-Applic-ID invented
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a mail server sends the relay by SMTP a plain message without Applic-ID
    Then the relay accepts the message with 250 after its content
    And the recipient receives a notification
    When the recipient retrieves the MM
    Then neither the notification nor the retrieved MM carries X-Mms-Applic-ID, X-Mms-Reply-Applic-ID or X-Mms-Aux-Applic-Info

  @MEM-15
  Scenario: DATA without an accepted recipient gets an SMTP error reply
    Given the harness plays the MMS relay's bearers
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM" but no recipient
    Then the relay refuses the DATA or the message with an SMTP error reply

  @MEM-16
  Scenario: A message with a malformed header gets an SMTP error reply or is delivered, never dropped after 250
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM" and a malformed header line
    Then the relay answers the message with an SMTP error reply, or delivers it

  @MEM-17 @if:mms_mm3_max_size
  Scenario: A message over the declared size limit gets an SMTP error reply or is delivered, never dropped after 250
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP a notification with "Applic-ID: MEM" larger than the relay's MM3 size limit
    Then the relay answers the message with an SMTP error reply, or delivers it

  @MEM-19 @if:mms_mm3_starttls
  Scenario: Over STARTTLS the relay takes the handshake, starts the session over and takes the message inside TLS
    Given the harness plays the MMS relay's bearers
    And the MMS relay is bound to the harness SMSC
    When a MEM server sends the relay by SMTP over STARTTLS a notification with "Applic-ID: MEM"
    Then the relay offers STARTTLS, answers it with 220, and inside TLS does not offer it again and accepts the message with 250
    And the recipient receives a notification
