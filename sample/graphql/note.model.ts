import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'A note on a contact.' })
export class Note {
  @Field(() => ID) id!: string;
  @Field() text!: string;
}
