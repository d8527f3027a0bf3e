/** A rendered message, ready for a transport. */
export interface RenderedEmail {
  /** One line: never holds CR or LF. */
  subject: string;
  /** A complete HTML document; every payload value in it is escaped. */
  html: string;
  text: string;
}

/** What the templates say about the product itself. */
export interface Brand {
  /** The product name in subjects, greetings and signatures. */
  appName: string;
  /** The product's address; the welcome e-mail links to it when set. */
  appUrl?: string | undefined;
}
