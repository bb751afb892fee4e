# MEM server scenarios (seed 004 §6.1, §6.2.1): the harness makes a new
# message arrive in the user's mailbox (SMTP delivery to mem_server.inbox, or
# mem_server.deliver_command) and plays the MMS server's MM3 interface (an
# SMTP server at mem_server.mm3, the address the SUT is configured with). The
# SUT must notify by an SMTP message to the user's MMS address
# (mem_server.notify_to) with `Applic-ID: MEM` and the payload its profile
# declares (mem_server.payload). A notification counts only for mail the
# server accepted (its 250 after the content) and only if it completed after
# the harness sent that mail's content, and is matched to the mail whose mailbox its EMN payload names
# (by time when the payload names none the suite reads), whichever scenario
# is running when it arrives. Notifications to other addresses (another
# mailbox's own user) are not judged. The MM3 interface is shared by the
# run, hence @harness:mm3 (one scenario at a time uses it).
@mem-server @harness:mm3
Feature: A MEM server sends its outband notifications by SMTP to the MMS server

  @MEM-1
  Scenario: A new message in the user's mailbox makes the server send an SMTP message to the MMS server
    Given the harness plays the MMS server's MM3 interface
    When a new message arrives in the user's mailbox
    Then the MEM server sends a complete SMTP mail transaction to the MM3 interface for the user's MMS address

  @MEM-2
  Scenario: The SMTP notification carries Applic-ID MEM
    Given the harness plays the MMS server's MM3 interface
    When a new message arrives in the user's mailbox
    Then the MEM server's notification has the header field Applic-ID with the value MEM

  @MEM-3 @if:mem_payload_emn
  Scenario: The notification payload is an OMA EMN document naming the mailbox
    Given the harness plays the MMS server's MM3 interface
    When a new message arrives in the user's mailbox
    Then the notification's body is an OMA EMN document whose mailbox attribute names the user's mailbox

  @MEM-4 @if:mem_other_mailbox
  Scenario: Mail for another mailbox does not notify the user's MMS address; mail for the user's mailbox does
    Given the harness plays the MMS server's MM3 interface
    When a new message arrives in the other mailbox
    Then no notification reaches the user's MMS address after a pause
    When a new message arrives in the user's mailbox
    Then the MEM server sends a complete SMTP mail transaction to the MM3 interface for the user's MMS address
    And no notification of the other mailbox's mail has reached the user's MMS address meanwhile

  @MEM-18 @if:mem_starttls
  Scenario: Offered STARTTLS, the server sends its notification over TLS and greets again after the handshake
    Given the harness plays the MMS server's MM3 interface
    And the MM3 interface offers STARTTLS
    When a new message arrives in the user's mailbox
    Then the MEM server sends its notification over TLS after STARTTLS and starts the session over with EHLO
